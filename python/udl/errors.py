"""The exceptions udl raises for bad input, beside Python's own ValueError and TypeError."""

from udl._native import _C

#: A spec whose layer shapes do not work for its input (raised before any training).
InvalidArchitecture = _C.InvalidArchitecture
#: A file whose content is not what its format promises (IDX files, udl model files).
DataFormatError = _C.DataFormatError
#: An argument outside its documented range, detected by the native core.
InvalidArgument = _C.InvalidArgument

__all__ = ["DataFormatError", "InvalidArchitecture", "InvalidArgument"]

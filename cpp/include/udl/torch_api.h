// The slice of the LibTorch C++ API that udl uses, precompiled once for every target.
#pragma once

#include <ATen/CPUGeneratorImpl.h>
#include <torch/nn.h>
#include <torch/optim.h>
#include <torch/serialize.h>
#include <torch/types.h>

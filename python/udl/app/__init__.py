"""The `udl` command, an application of the library: its parser and subcommands (`cli`,
`options`, `commands`), run folders (`runs`), progress output (`progress`) and the
reproduction of the reports (`reproduce`, `report`).

The library (`udl` and its modules) never imports from here. Importing this package, and
`udl.app.cli`, loads neither torch nor Optuna, matplotlib, pandas or scikit-learn: the
commands import what they need when they run.
"""

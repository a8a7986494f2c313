from marlin_core.cli import run

run()

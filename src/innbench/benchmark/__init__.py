"""The benchmark: grids of problems x models x seeds, a SQLite results database, and the report."""

from .config import GRID_PRESETS, Cell, GridConfig, ModelSpec, get_grid, load_grid
from .db import ResultsDB
from .runner import GridInterrupted, run_cell, run_grid

__all__ = ["GRID_PRESETS", "Cell", "GridConfig", "GridInterrupted", "ModelSpec", "ResultsDB", "get_grid",
           "load_grid", "run_cell", "run_grid"]

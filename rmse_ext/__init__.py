"""rmse_ext: streaming Root Mean Squared Error, Keras-compatible, exact and fast.

>>> import rmse_ext
>>> m = rmse_ext.RootMeanSquaredError()
>>> m.update_state([2, 4, 6], [1, 3, 2])
>>> print(m.result())
2.4494898
"""
from .evaluate import evaluate
from .functional import (
    grouped_root_mean_squared_error, root_mean_squared_error, root_mean_squared_error_interval,
)
from .grouped import GroupedRootMeanSquaredError
from .metric import RootMeanSquaredError
from .rolling import RollingRootMeanSquaredError, rolling, rolling_root_mean_squared_error

__version__ = "0.1.0"
__all__ = ["GroupedRootMeanSquaredError", "RollingRootMeanSquaredError", "RootMeanSquaredError",
           "evaluate", "rolling", "rolling_root_mean_squared_error",
           "grouped_root_mean_squared_error", "root_mean_squared_error",
           "root_mean_squared_error_interval", "__version__"]

"""gridcrit: criticality analysis of medium-voltage distribution networks.

Stages follow the data::

    data -> reliability -> features -> models -> explain -> registry -> assistant -> app

Each stage is a subpackage; the ``gridcrit`` CLI (``gridcrit.cli``) is a thin shell over them.
"""

from gridcrit.errors import GridcritError

__version__ = "0.1.0"
__all__ = ["GridcritError", "__version__"]

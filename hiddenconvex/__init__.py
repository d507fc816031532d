"""hiddenconvex: exact optimal sets of regularized two-layer ReLU networks via their hidden convex
program (Wang, Lacotte & Pilanci, ICLR 2022; Mishkin & Pilanci, ICML 2023), and inverse stability
of shallow ReLU parametrizations (Berner, Elbrächter & Grohs, NeurIPS 2019).

Mathematics and conventions: SPEC.md (loss ½‖ŷ−y‖² without 1/n, chamber patterns, blocks
1..p positive and p+1..2p negative, bias as a regularized ones column).
"""

from .api import Result, solve
from .blocks import BlockWeights
from .errors import InputError, SolverError
from .losses import Hinge, Logistic, Loss, Squared, get_loss
from .network import ReLUNetwork
from .objective import ObjectiveValue, Problem, objective
from .patterns import Patterns

__version__ = "0.1.0"

__all__ = [
    "solve", "Result", "BlockWeights", "InputError", "SolverError", "Hinge", "Logistic", "Loss",
    "Squared", "get_loss", "ReLUNetwork", "ObjectiveValue", "Problem", "objective", "Patterns",
    "__version__",
]

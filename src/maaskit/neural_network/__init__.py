"""Neural-network estimators on maaskit's own kernels (MLP, CNN; RNN/Transformer build on the same base).

Every model keeps all its parameters in one flat buffer (layer tensors are views), trains
with mini-batches and a fused optimizer update, and saves as flat buffer + JSON architecture.
"""

from ._base import NeuralEstimatorBase
from ._cnn import CNNClassifier
from ._crnn import CRNNClassifier
from ._gan import GAN
from ._mlp import MLPClassifier, MLPRegressor
from ._rnn import RNNClassifier, RNNRegressor
from ._transformer import TransformerClassifier

__all__ = [
    "NeuralEstimatorBase",
    "MLPClassifier",
    "MLPRegressor",
    "CNNClassifier",
    "CRNNClassifier",
    "RNNClassifier",
    "RNNRegressor",
    "TransformerClassifier",
    "GAN",
]

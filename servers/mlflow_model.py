"""The served model as an MLflow pyfunc model, logged "from code" (MLflow's recommended way for
custom models: this file is the model's code, `mlflow.models.set_model` names the model).

Why a custom `PythonModel` and not the scikit-learn flavour: the scikit-learn flavour's pyfunc
passes the request table straight to the estimator and returns one method's output. The churn
estimators take a one-hot matrix, so the client would have to build it (the contract has the
server convert rows), and a classifier would answer classes (`predict`) or probabilities
(`pyfunc_predict_fn="predict_proba"`), not both. It would also serialise the estimator again;
here the artifact is the very file every stack loads, sha256-checked by `Predictor.load`. The
model's input is the declared fields as table columns; `predict` validates them against the
declaration and builds the estimator's input for the whole request with whole-column operations
(servers/columns.py), then makes one model call.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import mlflow
import pandas as pd
from mlflow.exceptions import MlflowException
from mlflow.protos.databricks_pb2 import INVALID_PARAMETER_VALUE

from servers.columns import InvalidColumns, input_from_columns
from servers.service import ModelService


class ChurnModel(mlflow.pyfunc.PythonModel):
    def load_context(self, context: Any) -> None:
        self.service = ModelService()
        self.service.load(artifact=Path(context.artifacts["model"]))

    def predict(
        self, context: Any, model_input: pd.DataFrame, params: dict[str, Any] | None = None
    ) -> pd.DataFrame:
        predictor = self.service.require()
        try:
            X = input_from_columns(predictor.schema, {name: model_input[name].to_numpy()
                                                      for name in model_input.columns},
                                   converter=predictor.converter)
        except InvalidColumns as error:
            raise MlflowException(str(error), error_code=INVALID_PARAMETER_VALUE) from None
        result = self.service.infer_input(X)
        answer = {"prediction": result.classes}
        if result.proba is not None:
            answer.update({name: result.proba[:, i] for i, name in enumerate(result.names)})
        return pd.DataFrame(answer)


mlflow.models.set_model(ChurnModel())

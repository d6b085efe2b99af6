"""Deterministic synthetic churn data with non-linear structure (no downloads)."""

from __future__ import annotations

import numpy as np
import pandas as pd

from shared_model.features import CONTRACT_TYPES, FEATURES, PAYMENT_METHODS


def make_churn_data(n: int = 20_000, seed: int = 0) -> tuple[pd.DataFrame, np.ndarray]:
    """Customers in the request schema's ranges and a churn label.

    The label mixes thresholds, interactions and a U-shape in price, so a tree ensemble
    has something to find that a linear model cannot.
    """
    rng = np.random.default_rng(seed)
    contract = rng.choice(len(CONTRACT_TYPES), size=n, p=[0.55, 0.25, 0.20])
    payment = rng.choice(len(PAYMENT_METHODS), size=n, p=[0.35, 0.22, 0.22, 0.21])
    tenure = np.where(
        contract == 0, rng.gamma(1.3, 14, n), rng.gamma(3.0, 14, n)
    ).clip(0, 120).astype(int)
    has_internet = rng.random(n) < 0.78
    has_phone = rng.random(n) < 0.90
    num_products = (1 + rng.poisson(1.0 + 1.2 * has_internet, n)).clip(1, 10)
    monthly = (
        18 + 8 * has_phone + 35 * has_internet + 9 * (num_products - 1) + rng.normal(0, 8, n)
    ).clip(15, 300)
    total = (monthly * np.maximum(tenure, 1) * rng.normal(1.0, 0.05, n)).clip(monthly, 60_000)

    new_customer = tenure < 6
    logit = (
        -1.6
        + 2.2 * (contract == 0) * new_customer
        + 1.1 * (contract == 0) * (payment == 0)
        - 0.035 * np.minimum(tenure, 60) * (contract != 0)
        + 0.0009 * (monthly - 70) ** 2
        - 0.9 * (num_products >= 4)
        + 0.8 * has_internet * (monthly > 95)
        + 1.2 * np.sin(tenure / 6.0) * (contract == 0)
    )
    label = (rng.random(n) < 1 / (1 + np.exp(-logit))).astype(np.int64)

    frame = pd.DataFrame(
        {
            "tenure_months": tenure,
            "monthly_charges": monthly.round(2),
            "total_charges": total.round(2),
            "num_products": num_products,
            "has_phone_service": has_phone,
            "has_internet": has_internet,
            "contract_type": np.asarray(CONTRACT_TYPES)[contract],
            "payment_method": np.asarray(PAYMENT_METHODS)[payment],
        },
        columns=list(FEATURES),
    )
    return frame, label

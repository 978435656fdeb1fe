"""One-vs-rest linear classifiers solved exactly with full-batch L-BFGS in torch (CPU or GPU).

``loss="squared_hinge"`` is the primal problem of scikit-learn's ``LinearSVC``
(liblinear, the reference): for every class c,

    min_w 1/2 ||w_c||^2 + C sum_i max(0, 1 - y_ic (w_c . [x_i, s]))^2,   y_ic = +-1,

with the intercept as the weight of a constant feature ``s`` (``intercept_scaling``)
and so penalised like liblinear does. ``loss="logistic"`` is one-vs-rest
logistic regression (the linear probe of paper 003 §4.2; scikit-learn's
``LogisticRegression`` leaves the intercept unpenalised, and so do we there).
Both are strongly convex, so L-BFGS to tolerance reaches the same optimum as
the reference solvers; tests check the accuracies agree within 0.5 points.
Features are standardised with the training mean/std (kept for prediction).
"""

import numpy as np
import torch
import torch.nn.functional as F

LOSSES = ("squared_hinge", "logistic")


class LinearOvR:
    """Fitted weights (classes, dim), intercepts (classes,), and the feature standardisation."""

    def __init__(self, weight, bias, mean, std, classes):
        self.weight, self.bias = weight, bias
        self.mean, self.std, self.classes = mean, std, classes

    def decision_function(self, x):
        z = (np.asarray(x, dtype=np.float64) - self.mean) / self.std
        return z @ self.weight.T + self.bias

    def predict(self, x):
        scores = self.decision_function(x)
        if len(self.classes) == 2:  # binary: one separator, like scikit-learn
            return self.classes[(scores[:, 0] > 0).astype(int)]
        return self.classes[scores.argmax(1)]

    def accuracy(self, x, y):
        return float((self.predict(x) == np.asarray(y)).mean())


def _objective(w, x, ysign, c, loss, penalise_bias):
    margin = ysign * (x @ w.T)  # (n, classes)
    if loss == "squared_hinge":
        data = (F.relu(1.0 - margin) ** 2).sum()
    else:
        data = F.softplus(-margin).sum()
    reg = w if penalise_bias else w[:, :-1]
    return 0.5 * (reg**2).sum() + c * data


def fit_linear_ovr(
    x,
    y,
    c=1.0,
    loss="squared_hinge",
    standardize=True,
    intercept_scaling=1.0,
    max_iter=200,
    tol=1e-7,
    device="cpu",
):
    """Fit one-vs-rest linear classifiers on features ``x`` (n, dim) and labels ``y`` (n,)."""
    if loss not in LOSSES:
        raise ValueError(f"loss must be one of {LOSSES}, got {loss!r}")
    x = np.asarray(x, dtype=np.float64).reshape(len(x), -1)
    classes, yi = np.unique(np.asarray(y), return_inverse=True)
    mean = x.mean(0) if standardize else np.zeros(x.shape[1])
    std = x.std(0) if standardize else np.ones(x.shape[1])
    std = np.where(std > 0, std, 1.0)
    # float64 on CPU for an exact optimum; float32 on GPU where float64 is slow.
    dtype = torch.float64 if torch.device(device).type == "cpu" else torch.float32
    xt = torch.as_tensor((x - mean) / std, dtype=dtype, device=device)
    xt = torch.cat([xt, torch.full((len(xt), 1), intercept_scaling, dtype=dtype, device=device)], 1)
    heads = 1 if len(classes) == 2 else len(classes)
    target = torch.as_tensor(yi, device=device)
    if heads == 1:
        ysign = (2.0 * target - 1.0).to(dtype)[:, None]
    else:
        ysign = 2.0 * F.one_hot(target, heads).to(dtype) - 1.0
    w = torch.zeros(heads, xt.shape[1], dtype=dtype, device=device, requires_grad=True)
    opt = torch.optim.LBFGS(
        [w],
        lr=1.0,
        max_iter=max_iter,
        tolerance_grad=tol,
        tolerance_change=tol * 1e-3,
        history_size=20,
        line_search_fn="strong_wolfe",
    )
    penalise_bias = loss == "squared_hinge"

    def closure():
        opt.zero_grad()
        value = _objective(w, xt, ysign, c, loss, penalise_bias)
        value.backward()
        return value

    opt.step(closure)
    weight = w.detach().cpu().double().numpy()
    return LinearOvR(weight[:, :-1], weight[:, -1] * intercept_scaling, mean, std, classes)


def fit_sklearn_svc(x, y, c=1.0, standardize=True, tol=1e-6, max_iter=20000):
    """The reference: scikit-learn LinearSVC on the same standardised features (CPU only)."""
    from sklearn.svm import LinearSVC

    x = np.asarray(x, dtype=np.float64).reshape(len(x), -1)
    mean = x.mean(0) if standardize else np.zeros(x.shape[1])
    std = x.std(0) if standardize else np.ones(x.shape[1])
    std = np.where(std > 0, std, 1.0)
    svc = LinearSVC(C=c, dual="auto", max_iter=max_iter, tol=tol).fit((x - mean) / std, y)
    return LinearOvR(svc.coef_, svc.intercept_, mean, std, svc.classes_)


def fit_svm(x, y, c, solver, device="cpu", tol=None):
    """SVM head: ``solver`` "sklearn" (LinearSVC), "torch", or "auto" (torch on GPU, sklearn on CPU).

    ``tol`` loosens LinearSVC's stopping tolerance (default: the reference 1e-6,
    with up to 20000 passes); on wide, separable features the dual solver
    crawls at 1e-6 while the accuracy is settled long before.
    """
    if solver == "auto":
        solver = "torch" if torch.device(device).type == "cuda" else "sklearn"
    if solver == "sklearn":
        if tol is None:
            return fit_sklearn_svc(x, y, c)
        return fit_sklearn_svc(x, y, c, tol=tol, max_iter=2000)
    return fit_linear_ovr(x, y, c=c, loss="squared_hinge", device=device)

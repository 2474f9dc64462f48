"""The platform's components: the composition root that the `crm` command and the tests share."""

# component -> (module with spec(), default local port)
COMPONENTS: dict[str, tuple[str, int]] = {
    "gateway": ("gateway.app", 8000),
    "profile": ("services.profile.app", 8001),
    "consent": ("services.consent.app", 8002),
    "recommendation": ("services.recommendation.app", 8003),
    "churn": ("services.churn.app", 8004),
    "feedback": ("services.feedback.app", 8005),
}


def spec_of(component: str):
    """The ServiceSpec of `component`, built from the current environment."""
    import importlib

    return importlib.import_module(COMPONENTS[component][0]).spec()

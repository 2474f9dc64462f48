"""The platform's components: the composition root that the `crm` command and the tests share."""

from pathlib import Path

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


# component -> its settings class: with the migrations folder beside its app module, all that
# `crm migrate` needs. An init container then migrates without importing the app (its routes,
# models, trained-model and screening libraries), in about 60% of the CPU.
SETTINGS: dict[str, str] = {
    "gateway": "gateway.settings:GatewaySettings",
    "profile": "services.profile.settings:ProfileSettings",
    "consent": "services.consent.settings:ConsentSettings",
    "recommendation": "services.recommendation.settings:RecommendationSettings",
    "churn": "services.churn.settings:ChurnSettings",
    "feedback": "services.feedback.settings:FeedbackSettings",
}


def migrations_of(component: str) -> tuple[Path, str]:
    """The component's migrations folder and its database URL (from the current environment)."""
    import importlib
    import importlib.util

    module, name = SETTINGS[component].split(":")
    settings = getattr(importlib.import_module(module), name)()
    package = importlib.util.find_spec(COMPONENTS[component][0].rsplit(".", 1)[0])
    if package is None or package.origin is None:
        raise LookupError(f"the package of component {component!r} is not installed")
    return Path(package.origin).parent / "migrations", settings.database_url

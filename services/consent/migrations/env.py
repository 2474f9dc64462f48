from services.kit.migrations import run_env
from services.consent.models import Base

run_env(Base.metadata)

from services.churn.models import Base
from services.kit.migrations import run_env

run_env(Base.metadata)

from services.kit.migrations import run_env
from services.recommendation.models import Base

run_env(Base.metadata)

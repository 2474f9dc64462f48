"""`crm rotate-keys`: re-encrypt, under the active key, every field the data catalogue declares
encrypted, in every component that encrypts (services/kit/rotation.py)."""

import asyncio

from services.kit import crypto, db
from services.kit.rotation import rotate
from services.kit.settings import EncryptionSettings


async def rotate_component(spec, batch_size: int = 500) -> dict[str, int]:
    keys = spec.settings.keyring()
    crypto.install(keys)
    engine = db.create_engine(spec.settings.database_url)
    try:
        return await rotate(engine, spec.metadata, spec.catalogue, keys, batch_size)
    finally:
        await engine.dispose()


def main(component: str | None = None) -> None:
    from services.components import COMPONENTS, spec_of

    for name in [component] if component else list(COMPONENTS):
        spec = spec_of(name)
        if not isinstance(spec.settings, EncryptionSettings) or spec.catalogue is None:
            continue
        for table, count in asyncio.run(rotate_component(spec)).items():
            print(f"{name}: {count} {table} rows re-encrypted under the active key")

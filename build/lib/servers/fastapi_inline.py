"""FastAPI stack: the model runs inline in async def, blocking the event loop (anti-pattern)."""

from servers.fastapi_app import create_app

app = create_app("inline")

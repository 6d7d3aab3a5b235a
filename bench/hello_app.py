"""The floor: a bare FastAPI app answering GET /hello, run by uvicorn exactly as the services
are (same server, same flags), with none of the platform's middleware, database or workers."""

from fastapi import FastAPI


def create_app() -> FastAPI:
    app = FastAPI(docs_url=None, redoc_url=None, openapi_url=None)

    @app.get("/hello")
    async def hello() -> dict[str, str]:
        return {"hello": "world"}

    return app

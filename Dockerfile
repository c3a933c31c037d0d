# One image per service, each a target of this file:
#
#   docker build --target registration -t koshiqon/registration:0.1.0 .
#   (quota, proposals, monitoring alike)
#
# An image holds its service's package, koshiqon-common and their run-time dependencies as
# uv.lock pins them, installed with `uv sync --frozen --no-dev --no-editable`: no dev group, so
# no libs/devtools, test or lint tooling. Its entry point is the service's console script,
# `koshiqon-<service>`, and the argument is the role: `api` (the default), `worker` or
# `migrate`. It runs as the unprivileged user 10001 and writes nothing but /tmp, so a pod may
# mount its root file system read-only (deploy/k8s).

ARG PYTHON_IMAGE=python:3.11-slim-trixie
ARG UV_IMAGE=ghcr.io/astral-sh/uv:0.13.9

FROM ${UV_IMAGE} AS uv

# ---- build: one virtual environment per service, from the lock file ----
FROM ${PYTHON_IMAGE} AS build
COPY --from=uv /uv /usr/local/bin/uv
ENV UV_COMPILE_BYTECODE=1 \
    UV_LINK_MODE=copy \
    UV_PYTHON_DOWNLOADS=never \
    UV_NO_CACHE=1
WORKDIR /src
COPY pyproject.toml uv.lock ./
COPY libs/ libs/
COPY services/ services/
RUN for service in registration quota proposals monitoring; do \
      UV_PROJECT_ENVIRONMENT="/opt/${service}" \
        uv sync --frozen --no-dev --no-editable --package "koshiqon-${service}" || exit 1; \
    done

# ---- run time: the same Python, no build tools, no uv ----
FROM ${PYTHON_IMAGE} AS runtime
RUN groupadd --system --gid 10001 koshiqon \
    && useradd --system --uid 10001 --gid 10001 --no-create-home --home-dir /nonexistent \
       --shell /usr/sbin/nologin koshiqon
ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    KOSHIQON_ENV=prod
WORKDIR /tmp
USER 10001:10001

FROM runtime AS registration
COPY --from=build /opt/registration /opt/registration
ENV PATH=/opt/registration/bin:$PATH
EXPOSE 8000 9000
ENTRYPOINT ["koshiqon-registration"]
CMD ["api"]

FROM runtime AS quota
COPY --from=build /opt/quota /opt/quota
ENV PATH=/opt/quota/bin:$PATH
EXPOSE 8000 9000
ENTRYPOINT ["koshiqon-quota"]
CMD ["api"]

FROM runtime AS proposals
COPY --from=build /opt/proposals /opt/proposals
ENV PATH=/opt/proposals/bin:$PATH
EXPOSE 8000 9000
ENTRYPOINT ["koshiqon-proposals"]
CMD ["api"]

FROM runtime AS monitoring
COPY --from=build /opt/monitoring /opt/monitoring
# the public figures `koshiqon-monitoring load-reference` loads (data/README.md: sources)
COPY data/ /opt/koshiqon/data/
ENV PATH=/opt/monitoring/bin:$PATH \
    KOSHIQON_HOME=/opt/koshiqon
EXPOSE 8000 9000
ENTRYPOINT ["koshiqon-monitoring"]
CMD ["api"]

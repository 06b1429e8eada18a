# The atlas-continuity runtime image: the CLI with one store's SDK, run as a non-root user.
# AtlasOperator's grant jobs run it (runtime_image), and so can CI jobs that use containers.
#
#   docker build --build-arg STORE=s3 -t ghcr.io/acme/atlas-continuity:0.2.0-s3 .
#
# STORE is the runtime extra of the cloud the image talks to: s3, gcs or azureblob (one, so
# the image carries one SDK). The base is pinned to an exact Python and Debian release; pin
# it by digest too (python:3.12.8-slim-bookworm@sha256:...) when you build for production.
ARG PYTHON_IMAGE=python:3.12.8-slim-bookworm

FROM ${PYTHON_IMAGE} AS build
ARG STORE=s3
RUN case "${STORE}" in s3|gcs|azureblob) ;; \
      *) echo "STORE must be s3, gcs or azureblob, not '${STORE}'" >&2; exit 1 ;; esac
WORKDIR /src
COPY pyproject.toml README.md ./
COPY runtime ./runtime
COPY infra ./infra
# pip builds the environment and leaves it: nothing in the image installs packages later.
RUN python -m venv /opt/atlas-continuity \
 && /opt/atlas-continuity/bin/pip install --no-cache-dir --disable-pip-version-check ".[${STORE}]" \
 && /opt/atlas-continuity/bin/python -m pip uninstall --yes --quiet pip

FROM ${PYTHON_IMAGE}
# The base image's own pip too: the runtime image runs the CLI, never an installer.
RUN python -m pip uninstall --yes --quiet pip
COPY --from=build /opt/atlas-continuity /opt/atlas-continuity
ENV PATH=/opt/atlas-continuity/bin:/usr/local/bin:/usr/bin:/bin \
    HOME=/tmp \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1
# The Atlas operator's user (its chart's runAsUser): the grant files each writes are the other's.
USER 65532:65532
ENTRYPOINT ["atlas-continuity"]
CMD ["--help"]

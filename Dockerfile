# extreme3d in a container: the same set-up as `make setup` on Debian 12 (bookworm), CPU only.
#   docker build -t extreme3d .
#   docker run --rm -v "$PWD/out:/app/demo_out" extreme3d                  # the demo
#   docker run --rm -v "$PWD/data:/data" extreme3d extreme3d prepare-images /data/list.txt /data/out
# Model files that may not be redistributed (BFM, trained CNNs, dlib's landmark model) are not
# in the image: mount them at /app/3DMM_model, /app/CNN and /app/dlib_model.
FROM python:3.11-slim-bookworm

# System packages of the Makefile's `system-deps` target (APT_PKGS) plus make and git.
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
      g++ cmake libeigen3-dev libboost-dev libosmesa6-dev make git \
 && rm -rf /var/lib/apt/lists/*

# The project runs on CPU: take torch's CPU wheels (the CUDA ones are several GB).
ARG TORCH_INDEX=https://download.pytorch.org/whl/cpu
ENV PIP_EXTRA_INDEX_URL=${TORCH_INDEX} \
    PIP_NO_CACHE_DIR=1 \
    PYTHONUNBUFFERED=1

WORKDIR /app
COPY . /app

# Exactly the Makefile set-up: venv in .venv, torch, build tools, editable install of the package.
RUN make setup PY=python3

ENV PATH=/app/.venv/bin:${PATH}

CMD ["python", "-m", "extreme3d", "demo"]

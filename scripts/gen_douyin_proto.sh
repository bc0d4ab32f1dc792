#!/usr/bin/env bash
# Regenerate bot/adapters/douyin/douyin_pb2.py (+ .pyi) from douyin.proto. A dev-time step: the
# generated file is committed, so running livebot needs only the protobuf runtime. grpcio-tools
# bundles protoc; it is installed into .venv on demand and is not a livebot dependency.
set -euo pipefail
cd "$(dirname "$0")/.."
py=.venv/bin/python
"$py" -c 'import grpc_tools' 2>/dev/null || "$py" -m pip install -q --disable-pip-version-check grpcio-tools
"$py" -m grpc_tools.protoc -I bot/adapters/douyin --python_out=bot/adapters/douyin --pyi_out=bot/adapters/douyin \
  bot/adapters/douyin/douyin.proto
echo "regenerated bot/adapters/douyin/douyin_pb2.py"

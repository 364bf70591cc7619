#!/usr/bin/env bash
# Regenerates Sources/ONNXProto/onnx.pb.swift, the Swift messages of onnx.proto that `forensight export --onnx`
# builds (ForensightModels' ONNXGraph). The generated file is committed: builds and CI never run this script, they
# only compile the file against the SwiftProtobuf library. Run it when moving to a newer onnx.proto.
#
#   bash scripts/reference/generate_onnx_proto.sh              # onnx 1.23.2's onnx.proto, swift-protobuf 1.39.0
#   ONNX_VERSION=1.24.0 bash scripts/reference/generate_onnx_proto.sh
#
# What it needs, installed when missing:
#   protoc                 Debian's protobuf-compiler (apt)
#   onnx.proto             from the PyPI package onnx at ONNX_VERSION, unpacked into a temporary folder (pip
#                          --target, so the Python environment's own onnx is left as it is); onnx.proto is
#                          Apache-2.0 and is not copied into the repository
#   protoc-gen-swift       built once from apple/swift-protobuf at SWIFT_PROTOBUF_VERSION, outside the repository
#                          (TOOLS_DIR, default ~/.cache/forensight/tools); about 10 minutes on 2 cores
# The generated file's header names the onnx and swift-protobuf versions it was made from.
set -euo pipefail
cd "$(dirname "$0")/../.."

onnx_version=${ONNX_VERSION:-1.23.2}
swift_protobuf_version=${SWIFT_PROTOBUF_VERSION:-1.39.0}
swift_protobuf_git=${SWIFT_PROTOBUF_GIT:-https://github.com/apple/swift-protobuf.git}
tools=${TOOLS_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/forensight/tools}
out=Sources/ONNXProto/onnx.pb.swift

if ! command -v protoc >/dev/null; then
  echo "generate: installing protobuf-compiler (apt)" >&2
  sudo_cmd=""
  [ "$(id -u)" = 0 ] || sudo_cmd="sudo"
  $sudo_cmd apt-get update -qq >&2
  DEBIAN_FRONTEND=noninteractive $sudo_cmd apt-get install -y -qq protobuf-compiler >&2
fi

plugin_source="$tools/swift-protobuf-$swift_protobuf_version"
plugin="$plugin_source/.build/release/protoc-gen-swift"
if [ ! -x "$plugin" ]; then
  if [ ! -d "$plugin_source/.git" ]; then
    mkdir -p "$tools"
    git clone -q --branch "$swift_protobuf_version" --depth 1 "$swift_protobuf_git" "$plugin_source"
  fi
  echo "generate: building protoc-gen-swift $swift_protobuf_version in $plugin_source (about 10 minutes)" >&2
  (cd "$plugin_source" && nice swift build -c release --product protoc-gen-swift >&2)
fi

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
echo "generate: fetching onnx $onnx_version's onnx.proto (pip)" >&2
python3 -m pip install -q --no-deps --target "$work/pip" "onnx==$onnx_version" >&2
mkdir -p "$work/proto" "$work/swift"
cp "$work/pip/onnx/onnx.proto" "$work/proto/onnx.proto"

protoc --plugin=protoc-gen-swift="$plugin" --proto_path="$work/proto" \
  --swift_out="$work/swift" --swift_opt=Visibility=Public "$work/proto/onnx.proto"

mkdir -p "$(dirname "$out")"
{
  echo "// Generated from onnx.proto of the PyPI package onnx $onnx_version (Apache-2.0, SPDX-License-Identifier: Apache-2.0)"
  echo "// by protoc-gen-swift $swift_protobuf_version with Visibility=Public. Do not edit: regenerate with"
  echo "// scripts/reference/generate_onnx_proto.sh."
  echo
  cat "$work/swift/onnx.pb.swift"
} >"$out"
echo "generate: wrote $out ($(wc -l <"$out") lines) from onnx $onnx_version" >&2

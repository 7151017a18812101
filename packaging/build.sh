#!/usr/bin/env bash
# Build npe for release: the sdist and wheel (dist/), then the one-folder app (dist/npe/) from that wheel.
#   bash packaging/build.sh            (needs: pip install build pyinstaller)
# The app is made from the wheel installed into a throwaway venv (build/pyinstaller/venv, seeing the
# build Python's torch and PySide6), so it holds exactly what `pip install npe` would.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
PYTHON=${PYTHON:-python3}
DIST="$ROOT/dist"
WORK="$ROOT/build/pyinstaller"

for module in build PyInstaller; do
    if ! "$PYTHON" -c "import $module" 2>/dev/null; then
        echo "build.sh: $PYTHON lacks '$module'; install it with: $PYTHON -m pip install build pyinstaller" >&2
        exit 1
    fi
done
export PIP_DISABLE_PIP_VERSION_CHECK=1

echo "== sdist and wheel -> $DIST"
rm -rf "$DIST/npe" "$DIST"/npe-*.whl "$DIST"/npe-*.tar.gz
"$PYTHON" -m build --outdir "$DIST" "$ROOT"  # the wheel is built from the sdist, so both are checked
WHEEL=$(ls "$DIST"/npe-*.whl)

echo "== install $(basename "$WHEEL") into a build venv"
rm -rf "$WORK"
mkdir -p "$WORK"
"$PYTHON" -m venv --system-site-packages --without-pip "$WORK/venv"
"$WORK/venv/bin/python" -m pip install --quiet --no-deps --no-index "$WHEEL"

echo "== PyInstaller -> $DIST/npe"
# From inside $WORK, so the checkout's npe/ is not on sys.path: the venv's copy is what gets bundled.
(cd "$WORK" && "$WORK/venv/bin/python" -m PyInstaller --noconfirm --log-level WARN \
    --distpath "$DIST" --workpath "$WORK" "$ROOT/packaging/npe.spec")

if [ -d "$DIST/npe" ]; then  # Linux: desktop entry, icons and MIME type, laid out like /usr/share
    SHARE="$DIST/npe/share"
    mkdir -p "$SHARE/applications" "$SHARE/mime/packages" "$SHARE/icons"
    cp "$ROOT/packaging/linux/npe.desktop" "$SHARE/applications/"
    cp "$ROOT/packaging/linux/npe-session.xml" "$SHARE/mime/packages/"
    cp -r "$ROOT/packaging/icons/hicolor" "$SHARE/icons/"
    "$DIST/npe/npe" --version
fi
echo "== done: $(du -sh "$DIST/npe" | cut -f1) in $DIST/npe; wheel: $(du -h "$WHEEL" | cut -f1) $WHEEL"

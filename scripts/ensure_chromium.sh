#!/usr/bin/env bash
# Make sure headless Chromium is at /usr/bin/chromium for the browser tests (Debian's package; never
# `playwright install`). Without root it says how to install it and carries on: the browser tests then fail
# with the same advice instead of being skipped.
set -u
CHROMIUM=/usr/bin/chromium
[ -x "$CHROMIUM" ] && exit 0
if [ "$(id -u)" = 0 ]; then
    apt_get="apt-get"
elif command -v sudo >/dev/null && sudo -n true 2>/dev/null; then
    apt_get="sudo apt-get"
else
    echo "chromium is not installed and this user cannot install it." >&2
    echo "Install it with: sudo apt-get install -y chromium   (browser tests fail until then)" >&2
    exit 0
fi
echo "installing chromium (apt-get) for the browser tests..."
export DEBIAN_FRONTEND=noninteractive
$apt_get install -y --no-install-recommends chromium >/dev/null 2>&1 ||
    { $apt_get update -qq && $apt_get install -y --no-install-recommends chromium >/dev/null; } ||
    echo "apt-get could not install chromium; browser tests will fail until it is installed." >&2
exit 0

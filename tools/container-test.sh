#!/usr/bin/env bash
# Builds the image from ./Dockerfile, starts the server from it (the image's default command, the shipped sentiment
# model) and checks that /health answers 200 and /predict classifies. Exit code 0 only if all of that worked.
#   ENGINE=podman|docker   default: podman if installed, else docker
#   BUILD_OPTS="..."       extra build options (e.g. --isolation=chroot where the OCI runtime cannot start containers)
#   RUN=container|chroot   container (default): `$ENGINE run -p PORT:8080`; chroot: run the image's root filesystem with
#                          chroot as its unprivileged user (uid 1654), for sandboxes whose OCI runtime is refused
#   PORT=18080             host port
set -euo pipefail
cd "$(dirname "$0")/.."
ENGINE=${ENGINE:-$(command -v podman >/dev/null && echo podman || echo docker)}
RUN=${RUN:-container}
PORT=${PORT:-18080}
IMAGE=localhost/distilbert:container-test
format=()
[ "$ENGINE" = podman ] && format=(--format docker)

# shellcheck disable=SC2086
"$ENGINE" build "${format[@]}" ${BUILD_OPTS:-} -t "$IMAGE" .

health() { bash -c "exec 3<>/dev/tcp/127.0.0.1/$PORT && printf 'GET /health HTTP/1.0\r\nHost: localhost\r\n\r\n' >&3 && head -n 1 <&3 | grep -q ' 200 '" 2>/dev/null; }

cleanup=()
# Undo in reverse order: the server stops before its filesystem is unmounted.
trap 'for ((i=${#cleanup[@]}-1; i>=0; i--)); do eval "${cleanup[i]}" || true; done' EXIT
if [ "$RUN" = chroot ]; then
  root=$("$ENGINE" image mount "$IMAGE")
  cleanup+=("$ENGINE image unmount $IMAGE >/dev/null")
  mount --bind /proc "$root/proc"; cleanup+=("umount $root/proc")
  chroot --userspec=1654:1654 "$root" /usr/bin/env -i PATH=/usr/local/bin:/usr/bin:/bin HOME=/home/app HF_HOME=/tmp/hf-cache \
    distilbert serve --host 127.0.0.1 --port "$PORT" > /tmp/distilbert-container-test.log 2>&1 &
  server=$!; cleanup+=("kill -TERM $server; wait $server")
else
  id=$("$ENGINE" run -d --rm -p "127.0.0.1:$PORT:8080" "$IMAGE")
  cleanup+=("$ENGINE stop $id >/dev/null")
fi

for _ in $(seq 1 120); do health && break; sleep 1; done
health || { echo "error: /health did not answer 200 within 120 s" >&2; exit 1; }
echo "/health: 200"
answer=$(bash -c "exec 3<>/dev/tcp/127.0.0.1/$PORT && body='{\"inputs\": \"a gorgeous, witty, seductive movie\"}' &&
  printf 'POST /predict HTTP/1.0\r\nHost: localhost\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n%s' \${#body} \"\$body\" >&3 && cat <&3")
echo "$answer" | tail -n 1
echo "$answer" | grep -q '"label":"positive"' || { echo "error: /predict did not classify the sentence as positive" >&2; exit 1; }
echo "container test passed"

#!/bin/bash
# librtmfp TestClient publish, play, P2P and NetGroup against Nimbus. See README.md.
source "$(dirname "$0")/common.sh"
LIB=${LIBRTMFP:?set LIBRTMFP to the librtmfp folder (lib/ and TestClient/TestClient built)}
TC=$LIB/TestClient/TestClient
export LD_LIBRARY_PATH=$LIB/lib
P=$((19370 + W)); R=$((P + 100)); H=$((P + 200))
start_server $P $R $H
cd "$OUT"
echo "== publish (TestClient --write), RTMP reader"
timeout 12 "$TC" --write --url=rtmfp://127.0.0.1:$P/live/lp --mediaFile="$MEDIA" > pub.log 2>&1 &
J=$!
sleep 0.5
timeout 10 ffmpeg -loglevel error -i rtmp://127.0.0.1:$R/live/lp -t 4 -c copy -f flv -y pub-rtmp.flv
echo "  RTMP reader got: $(count pub-rtmp.flv)"
wait $J
echo "== play (TestClient), ffmpeg RTMP publisher"
timeout 12 ffmpeg -loglevel error -re -i "$MEDIA" -c copy -f flv rtmp://127.0.0.1:$R/live/lr &
J=$!
sleep 1
timeout 5 "$TC" --url=rtmfp://127.0.0.1:$P/live/lr --mediaFile="$OUT/play.flv" > play.log 2>&1
echo "  TestClient got: $(count play.flv)"
wait $J
echo "== P2P (TestClient --p2pWrite, TestClient --peerId through the rendezvous)"
# TestClient pushes a file as fast as it reads it and exits at its end: feed it in real time through a FIFO.
mkfifo p2p.fifo
timeout 14 ffmpeg -loglevel error -re -i "$MEDIA" -c copy -f flv -y p2p.fifo 2> /dev/null &
timeout 14 stdbuf -oL "$TC" --p2pWrite --url=rtmfp://127.0.0.1:$P/live/pp --mediaFile=p2p.fifo > p2ppub.log 2>&1 &
J=$!
for i in 1 2 3 4 5 6 7 8 9 10; do
  PEER=$(grep -a -A1 "Peer ID" p2ppub.log | tail -1 | tr -dc '0-9a-f' | tail -c 64)
  [ -n "$PEER" ] && break
  sleep 0.5
done
echo "  publisher peer ID: $PEER"
timeout 8 "$TC" --peerId=$PEER --url=rtmfp://127.0.0.1:$P/live/pp --mediaFile="$OUT/p2p.flv" > p2pplay.log 2>&1
echo "  P2P player got: $(count p2p.flv)"
wait $J
echo "== NetGroup (TestClient --write --netGroup, TestClient --netGroup)"
G='G:027f0201010103010c050e74657374011b00'
timeout 16 "$TC" --write --netGroup=$G --url=rtmfp://127.0.0.1:$P/live/ng --mediaFile="$MEDIA" > ngpub.log 2>&1 &
J=$!
sleep 1.5
timeout 12 "$TC" --netGroup=$G --url=rtmfp://127.0.0.1:$P/live/ng --mediaFile="$OUT/ng.flv" > ngplay.log 2>&1
echo "  NetGroup player got: $(count ng.flv)"
wait $J
stop_server

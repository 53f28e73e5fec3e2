#!/bin/bash
# rtmfp-cpp tcpublish and tcconn (no -H -S: RFC 7425 HMAC and sequence numbers required) against Nimbus. See README.md.
source "$(dirname "$0")/common.sh"
BIN=${RTMFP_CPP:?set RTMFP_CPP to rtmfp-cpp/test (with tcconn and tcpublish built)}
P=$((19360 + W)); R=$((P + 100))
start_server $P $R 0
timeout 15 "$BIN/tcpublish" "rtmfp://127.0.0.1:$P/live#s" "$MEDIA" > "$OUT/tcpublish.log" 2>&1 &
PUB=$!
sleep 1.5
timeout 6 "$BIN/tcconn" -v "rtmfp://127.0.0.1:$P/live#s" > "$OUT/tcconn.log" 2>&1 &
timeout 10 ffmpeg -loglevel error -i "rtmp://127.0.0.1:$R/live/s" -t 4 -c copy -f flv -y "$OUT/rtmp.flv"
echo "RTMP player of tcpublish's stream: $(count "$OUT/rtmp.flv")"
sleep 5
echo "tcconn: $(grep -c 'onAudio\|audio' "$OUT/tcconn.log") audio lines, $(grep -c 'onVideo\|video' "$OUT/tcconn.log") video lines"
grep -h "onConnect" "$OUT/tcconn.log" "$OUT/tcpublish.log"
wait $PUB
stop_server

//! `osprey serve --http`: the Kinesis Video Streams API driven by boto3's
//! `kinesisvideo`, `kinesis-video-media` and `kinesis-video-archived-media`
//! clients with an endpoint URL. A 3 s 320x240 H.264 clip that GStreamer's
//! `matroskamux streamable=true` makes (a cluster at each key frame, every
//! 0.5 s) goes up in one chunked PutMedia (a PERSISTED acknowledgement per
//! fragment); ListFragments pages over them; GetMedia's Matroska is decoded
//! by GStreamer's matroskademux (every frame back); GetClip's MP4 is
//! counted by ffprobe, GetImages' pictures by size, and the HLS session's
//! playlist read by ffmpeg; the control calls and their errors as botocore
//! raises them; malformed Matroska gets an ERROR acknowledgement.

use std::process::Command;

use crate::common::output;
use crate::kinesis::{client, serve};

/// The client, run by python3 with the server's URL and a scratch folder.
const CLIENT: &str = r##"
import base64, http.client, json, os, subprocess, sys, time, urllib.error, urllib.parse, urllib.request
import boto3, botocore
url, tmp = sys.argv[1], sys.argv[2]
kw = dict(endpoint_url=url, region_name="eu-west-1", aws_access_key_id="test",
          aws_secret_access_key="test", config=botocore.config.Config(retries={"max_attempts": 1}))
kv = boto3.client("kinesisvideo", **kw)
media = boto3.client("kinesis-video-media", **kw)
archive = boto3.client("kinesis-video-archived-media", **kw)

def run(*args):
    subprocess.run(args, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)

mkv = os.path.join(tmp, "in.mkv")
run("gst-launch-1.0", "-q", "videotestsrc", "num-buffers=90", "pattern=ball", "!",
    "video/x-raw,width=320,height=240,framerate=30/1", "!",
    "x264enc", "key-int-max=15", "bframes=0", "speed-preset=ultrafast", "tune=zerolatency", "!",
    "h264parse", "!", "video/x-h264,stream-format=avc,alignment=au", "!",
    "matroskamux", "streamable=true", "min-cluster-duration=0", "!", "filesink", "location=" + mkv)

arn = kv.create_stream(StreamName="cam", DataRetentionInHours=24, MediaType="video/h264",
                       Tags={"site": "north"})["StreamARN"]
assert arn.startswith("arn:aws:kinesisvideo:eu-west-1:000000000000:stream/cam/"), arn
try:
    kv.create_stream(StreamName="cam"); raise SystemExit("duplicate create passed")
except kv.exceptions.ResourceInUseException:
    pass
assert kv.get_data_endpoint(StreamARN=arn, APIName="PUT_MEDIA")["DataEndpoint"] == url

def put_media(body, start):
    u = urllib.parse.urlparse(url)
    conn = http.client.HTTPConnection(u.hostname, u.port, timeout=30)
    conn.putrequest("POST", "/putMedia")
    for k, v in [("x-amzn-stream-name", "cam"), ("x-amzn-fragment-timecode-type", "RELATIVE"),
                 ("x-amzn-producer-start-timestamp", "%.3f" % start), ("Transfer-Encoding", "chunked")]:
        conn.putheader(k, v)
    conn.endheaders()
    try:
        for i in range(0, len(body), 3000):
            piece = body[i:i + 3000]
            conn.send(b"%x\r\n%s\r\n" % (len(piece), piece))
        conn.send(b"0\r\n\r\n")
    except OSError:
        pass
    r = conn.getresponse()
    assert r.status == 200, (r.status, r.read())
    return [json.loads(line) for line in r.read().splitlines() if line.strip()]

# Whole seconds (botocore sends timestamps so), recent (the stream keeps 24 h).
START = float(int(time.time()) - 60)
# GetClip's range ends inclusive (as KVS'): the frames at 1.000 s to 2.000 s.
CLIP_FRAMES = 31
acks = put_media(open(mkv, "rb").read(), START)
persisted = [a for a in acks if a["EventType"] == "PERSISTED"]
assert len(persisted) == 6 and not [a for a in acks if a["EventType"] == "ERROR"], acks
assert [a["FragmentTimecode"] for a in persisted] == [0, 500, 1000, 1500, 2000, 2500], acks
assert len([a for a in acks if a["EventType"] == "BUFFERING"]) == 6, acks

bad = put_media(b"\x1a\x45\xdf\xa3\x80" + b"\x00" * 64, START)
assert bad[-1]["EventType"] == "ERROR" and bad[-1]["ErrorId"] == 4006, bad

pages, token = [], None
while True:
    args = dict(StreamName="cam", MaxResults=4, FragmentSelector={
        "FragmentSelectorType": "PRODUCER_TIMESTAMP",
        "TimestampRange": {"StartTimestamp": START, "EndTimestamp": START + 10}})
    if token: args["NextToken"] = token
    r = archive.list_fragments(**args)
    pages.append(r["Fragments"])
    token = r.get("NextToken")
    if not token: break
frags = [f for p in pages for f in p]
assert [len(p) for p in pages] == [4, 2], pages
assert [f["FragmentNumber"] for f in frags] == [a["FragmentNumber"] for a in persisted]
assert all(f["FragmentLengthInMilliseconds"] == 500 for f in frags), frags
assert abs(frags[2]["ProducerTimestamp"].timestamp() - (START + 1)) < 0.002, frags[2]

got = media.get_media(StreamName="cam", StartSelector={"StartSelectorType": "EARLIEST"})
assert got["ContentType"] == "video/webm"
out = os.path.join(tmp, "out.mkv")
open(out, "wb").write(got["Payload"].read())
raw = os.path.join(tmp, "out.gray")
run("gst-launch-1.0", "-q", "filesrc", "location=" + out, "!", "matroskademux", "!", "h264parse", "!",
    "avdec_h264", "!", "videoconvert", "!", "video/x-raw,format=GRAY8", "!", "filesink", "location=" + raw)
assert os.path.getsize(raw) == 90 * 320 * 240, os.path.getsize(raw)
data = open(out, "rb").read()
assert data.count(b"AWS_KINESISVIDEO_FRAGMENT_NUMBER") == 6 and b"AWS_KINESISVIDEO_CONTINUATION_TOKEN" in data
got = media.get_media(StreamName="cam", StartSelector={
    "StartSelectorType": "CONTINUATION_TOKEN", "ContinuationToken": frags[4]["FragmentNumber"]})
assert got["Payload"].read().count(b"AWS_KINESISVIDEO_FRAGMENT_NUMBER") == 1

def probe(target, *entries):
    out = subprocess.run(["ffprobe", "-v", "error", "-select_streams", "v", "-count_frames",
                          "-show_entries", ",".join(entries), "-of", "json", target],
                         check=True, capture_output=True, text=True).stdout
    return json.loads(out)

clip = archive.get_clip(StreamName="cam", ClipFragmentSelector={"FragmentSelectorType": "PRODUCER_TIMESTAMP",
    "TimestampRange": {"StartTimestamp": START + 1, "EndTimestamp": START + 2}})
assert clip["ContentType"] == "video/mp4"
path = os.path.join(tmp, "clip.mp4")
open(path, "wb").write(clip["Payload"].read())
stream = probe(path, "stream=nb_read_frames,duration,width")["streams"][0]
assert stream["width"] == 320 and int(stream["nb_read_frames"]) == CLIP_FRAMES, stream
assert abs(float(stream["duration"]) - CLIP_FRAMES / 30) < 0.05, stream

images = archive.get_images(StreamName="cam", ImageSelectorType="PRODUCER_TIMESTAMP",
    StartTimestamp=START, EndTimestamp=START + 2, SamplingInterval=500, Format="JPEG",
    WidthPixels=160, HeightPixels=120)
assert "NextToken" not in images
shots = images["Images"]
assert len(shots) == 5 and all("Error" not in i for i in shots), [i.get("Error") for i in shots]
assert [i["TimeStamp"].timestamp() - START for i in shots] == [0, 0.5, 1, 1.5, 2], shots
jpeg = os.path.join(tmp, "shot.jpg")
open(jpeg, "wb").write(base64.b64decode(shots[3]["ImageContent"]))
assert probe(jpeg, "stream=width,height")["streams"][0] == {"width": 160, "height": 120}
paged = archive.get_images(StreamName="cam", ImageSelectorType="PRODUCER_TIMESTAMP",
    StartTimestamp=START, EndTimestamp=START + 2, SamplingInterval=500, Format="PNG", MaxResults=2)
assert len(paged["Images"]) == 2 and paged["NextToken"], paged.keys()
empty = archive.get_images(StreamName="cam", ImageSelectorType="PRODUCER_TIMESTAMP",
    StartTimestamp=START + 100, EndTimestamp=START + 101, SamplingInterval=1000, Format="JPEG")
assert [i["Error"] for i in empty["Images"]] == ["NO_MEDIA"] * 2, empty

hls = archive.get_hls_streaming_session_url(StreamName="cam", PlaybackMode="ON_DEMAND",
    HLSFragmentSelector={"FragmentSelectorType": "PRODUCER_TIMESTAMP",
                         "TimestampRange": {"StartTimestamp": START, "EndTimestamp": START + 10}})
hls = hls["HLSStreamingSessionURL"]
assert hls.startswith(url + "/hls/v1/getHLSMasterPlaylist.m3u8?SessionToken="), hls
frames = probe(hls, "frame=pts_time")["frames"]
pts = [float(f["pts_time"]) for f in frames]
assert len(pts) == 90, len(pts)
steps = [b - a for a, b in zip(pts, pts[1:])]
assert all(0.02 < d < 0.05 for d in steps), steps
live = archive.get_hls_streaming_session_url(StreamName="cam", PlaybackMode="LIVE",
    MaxMediaPlaylistFragmentResults=2)["HLSStreamingSessionURL"]
master = urllib.request.urlopen(live).read().decode()
assert "RESOLUTION=320x240" in master and 'CODECS="avc1.' in master, master
base = live.split("getHLSMasterPlaylist")[0]
playlist = urllib.request.urlopen(base + master.splitlines()[-1]).read().decode()
assert playlist.count("#EXTINF") == 2 and "#EXT-X-ENDLIST" not in playlist, playlist
try:
    urllib.request.urlopen(hls.replace("SessionToken=", "SessionToken=0")); raise SystemExit("a bad token passed")
except urllib.error.HTTPError as e:
    assert e.code == 401, e

info = kv.describe_stream(StreamName="cam")["StreamInfo"]
assert info["StreamARN"] == arn and info["DataRetentionInHours"] == 24 and info["Status"] == "ACTIVE", info
assert info["MediaType"] == "video/h264" and info["CreationTime"].year >= 2026, info
kv.update_data_retention(StreamName="cam", CurrentVersion=info["Version"],
                         Operation="INCREASE_DATA_RETENTION", DataRetentionChangeInHours=6)
assert kv.describe_stream(StreamARN=arn)["StreamInfo"]["DataRetentionInHours"] == 30
try:
    kv.update_data_retention(StreamName="cam", CurrentVersion=info["Version"],
                             Operation="DECREASE_DATA_RETENTION", DataRetentionChangeInHours=1)
    raise SystemExit("an old version passed")
except kv.exceptions.VersionMismatchException:
    pass
kv.tag_stream(StreamName="cam", Tags={"floor": "2"})
kv.untag_stream(StreamARN=arn, TagKeyList=["site"])
assert kv.list_tags_for_stream(StreamName="cam")["Tags"] == {"floor": "2"}
kv.create_stream(StreamName="cam2")
kv.create_stream(StreamName="other")
first = kv.list_streams(MaxResults=1)
assert [s["StreamName"] for s in first["StreamInfoList"]] == ["cam"] and first["NextToken"]
rest = kv.list_streams(MaxResults=5, NextToken=first["NextToken"])
assert [s["StreamName"] for s in rest["StreamInfoList"]] == ["cam2", "other"], rest
cond = kv.list_streams(StreamNameCondition={"ComparisonOperator": "BEGINS_WITH", "ComparisonValue": "cam"})
assert [s["StreamName"] for s in cond["StreamInfoList"]] == ["cam", "cam2"]
for call in [lambda: kv.describe_stream(StreamName="nope"),
             lambda: archive.list_fragments(StreamName="nope"),
             lambda: media.get_media(StreamName="nope", StartSelector={"StartSelectorType": "NOW"})]:
    try:
        call(); raise SystemExit("a missing stream passed")
    except botocore.exceptions.ClientError as e:
        assert e.response["Error"]["Code"] == "ResourceNotFoundException", e.response
        assert e.response["ResponseMetadata"]["HTTPStatusCode"] == 404
try:
    kv.describe_stream(StreamARN=arn.rsplit("/", 1)[0] + "/1"); raise SystemExit("a stale ARN passed")
except kv.exceptions.ResourceNotFoundException:
    pass
try:
    archive.list_fragments(StreamName="cam", FragmentSelector={"FragmentSelectorType": "NONE",
        "TimestampRange": {"StartTimestamp": START, "EndTimestamp": START}})
    raise SystemExit("a bad selector passed")
except archive.exceptions.InvalidArgumentException:
    pass
kv.delete_stream(StreamARN=arn)
assert [s["StreamName"] for s in kv.list_streams()["StreamInfoList"]] == ["cam2", "other"]
print("ok")
"##;

#[test]
fn boto3_drives_the_kvs_api_put_media_get_media_fragments_and_control() {
    let dir = tempfile::tempdir().unwrap();
    let (mut server, url) = serve(dir.path(), &[]);
    let out = output(
        Command::new("python3").args(["-c", CLIENT, &url, dir.path().to_str().unwrap()]),
        b"",
    );
    assert!(
        out.status.success() && String::from_utf8_lossy(&out.stdout).trim() == "ok",
        "boto3 client failed:\n{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(server.alive());
}

/// Against a server with credentials: signed calls pass, a wrong secret is
/// refused as botocore names it, so is a clock more than 5 minutes off,
/// and PutMedia signed over
/// `UNSIGNED-PAYLOAD` (its body streams) is taken while an unsigned one is
/// refused.
const SIGNED: &str = r##"
import http.client, sys, urllib.parse
import boto3, botocore
from botocore.auth import SigV4Auth, UNSIGNED_PAYLOAD
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials
url = sys.argv[1]
def client(secret):
    return boto3.client("kinesisvideo", endpoint_url=url, region_name="us-east-1",
                        aws_access_key_id="AKOSPREY", aws_secret_access_key=secret,
                        config=botocore.config.Config(retries={"max_attempts": 1}))
client("s3cret").create_stream(StreamName="cam")
try:
    client("wrong").list_streams(); raise SystemExit("a wrong secret passed")
except botocore.exceptions.ClientError as e:
    assert e.response["Error"]["Code"] == "InvalidSignatureException", e.response
    assert e.response["ResponseMetadata"]["HTTPStatusCode"] == 403

# A request signed 6 minutes off the server's clock either way is refused
# (AWS's 5 minutes); 4 minutes off is taken.
import datetime, botocore.auth
real_now = botocore.auth.get_current_datetime
def shifted(minutes):
    botocore.auth.get_current_datetime = lambda: real_now() + datetime.timedelta(minutes=minutes)
for minutes, words in [(-6, "Signature expired: "), (6, "Signature not yet current: ")]:
    shifted(minutes)
    try:
        client("s3cret").list_streams(); raise SystemExit("a shifted clock passed")
    except botocore.exceptions.ClientError as e:
        assert e.response["Error"]["Code"] == "InvalidSignatureException", e.response
        assert e.response["Error"]["Message"].startswith(words), e.response
        assert e.response["ResponseMetadata"]["HTTPStatusCode"] == 403
shifted(-4)
client("s3cret").list_streams()
botocore.auth.get_current_datetime = real_now

class Streamed(SigV4Auth):
    def payload(self, request):
        return UNSIGNED_PAYLOAD

def put_media(sign):
    headers = {"x-amzn-stream-name": "cam", "x-amz-content-sha256": UNSIGNED_PAYLOAD}
    if sign:
        request = AWSRequest(method="POST", url=url + "/putMedia", headers=headers)
        Streamed(Credentials("AKOSPREY", "s3cret"), "kinesisvideo", "us-east-1").add_auth(request)
        headers = dict(request.headers.items())
    u = urllib.parse.urlparse(url)
    conn = http.client.HTTPConnection(u.hostname, u.port, timeout=30)
    conn.request("POST", "/putMedia", body=b"\x1a\x45\xdf\xa3\x80\x00", headers=headers)
    r = conn.getresponse()
    return r.status, r.read()

status, body = put_media(True)
assert status == 200 and b'"ErrorId":4006' in body, (status, body)
status, body = put_media(False)
assert status == 403 and b"MissingAuthenticationTokenException" in body, (status, body)
print("ok")
"##;

#[test]
fn sigv4_is_checked_on_the_kvs_api_put_media_over_unsigned_payload() {
    let dir = tempfile::tempdir().unwrap();
    let secret = dir.path().join("secret");
    std::fs::write(&secret, "s3cret\n").unwrap();
    let (mut server, url) = serve(
        dir.path(),
        &[
            "--access-key-id",
            "AKOSPREY",
            "--secret-access-key-file",
            secret.to_str().unwrap(),
        ],
    );
    client(SIGNED, &url);
    assert!(server.alive());
}

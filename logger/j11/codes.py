"""J11 command codes, result codes and what each result means, as one table.

Sources (read, not copied; the wording here is ours):

* Request codes and their responses (request | 0x2000): ROHM J11 UART IF command specification
  §3.2 (common commands) and §3.4 (B-route commands) as broute-j11 0.1.0 names them
  (``commands.py``: 0x0005 open UDP port, 0x0008 transmit data, 0x0051 active scan, 0x0053
  start B-route, 0x0054 set B-route PANA authentication information, 0x0056 start PANA,
  0x0057 end PANA, 0x005F initial settings, 0x006B version, 0x00D9 hardware reset); the same codes
  in ak1211/smartmeter-route-b-app and regreh/m5stickc_bp35c0-j11. 0x0058 (stop B-route) is only in
  a third client (RS-WSUHA-J11 script found by search): uncertain, not used by the builders.
* Notifications: 0x4051 scan result per channel, 0x6018 data received, 0x6019 start-up finished
  (after a reset or power-on), 0x601A connection status changed, 0x6028 PANA result, 0x6038 receive
  failure — as broute-j11 decodes them (§3.2.5); 0x6019/0x6028/0x4051/0x6018 also in ak1211/regreh.
* Result codes: the specification's "list of response results" (Table 34 as broute-j11 cites it).
  0x01 is success. The meanings of 0x0E (the meter did not answer the MAC association; seen on real
  hardware by broute-j11 and regreh, who retry) and 0x58 (authentication information already set,
  tolerated by broute-j11 after a warm restart) are confirmed by client behaviour; the others are
  the specification's text as quoted, not seen on hardware by us.
* PANA result 0x01/0x02/0x03, connection status 0x01..0x04, receive-failure reasons: §3.2.5 as in
  broute-j11 and ak1211. Transmit result nibbles: 0x0 sent, 0x5 no ACK from the meter (broute-j11,
  regreh retry on it); other values are not documented in what we read: reported with their number.
"""

from __future__ import annotations

# ---- requests (host → adapter)
OPEN_UDP_PORT = 0x0005
SEND_DATA = 0x0008
ACTIVE_SCAN = 0x0051
START_BROUTE = 0x0053
SET_BROUTE_AUTH = 0x0054
START_PANA = 0x0056
END_PANA = 0x0057
INITIAL_SETTINGS = 0x005F
GET_VERSION = 0x006B
RESET = 0x00D9

REQUEST_NAMES = {
    OPEN_UDP_PORT: "open UDP port",
    SEND_DATA: "send data",
    ACTIVE_SCAN: "active scan",
    START_BROUTE: "start B-route",
    SET_BROUTE_AUTH: "set B-route ID and password",
    START_PANA: "start PANA",
    END_PANA: "end PANA",
    INITIAL_SETTINGS: "initial settings",
    GET_VERSION: "firmware version",
    RESET: "reset",
}

RESPONSE_FLAG = 0x2000


def response_to(request: int) -> int:
    """The command code of the adapter's answer to ``request``."""
    return request | RESPONSE_FLAG


def request_of(response: int) -> int:
    return response & ~RESPONSE_FLAG & 0xFFFF


# ---- notifications (adapter → host, unasked)
SCAN_RESULT = 0x4051
RECEIVED = 0x6018
STARTED = 0x6019
CONNECTION_STATUS = 0x601A
PANA_RESULT = 0x6028
RECEIVE_FAILED = 0x6038

NOTIFICATION_NAMES = {
    SCAN_RESULT: "active scan result",
    RECEIVED: "data received",
    STARTED: "start-up finished",
    CONNECTION_STATUS: "connection status changed",
    PANA_RESULT: "PANA result",
    RECEIVE_FAILED: "receive failure",
}

# ---- the adapter refusing a request frame itself (ak1211 only: uncertain)
REJECTED_HEADER = 0x2FFF
REJECTED_COMMAND = 0xFFFF

# ---- response results
SUCCESS = 0x01
MAC_CONNECTION_FAILED = 0x0E
AUTH_ALREADY_SET = 0x58
PORT_ALREADY_OPEN = 0x0A

#: Every result that is not success → one line naming the cause.
RESULTS: dict[int, str] = {
    0x02: "the address given is not in the adapter's device list",
    0x03: "the adapter does not know this command code",
    0x04: "a parameter value is out of range",
    0x06: "could not send: the destination address is invalid",
    0x0A: "the UDP port is already open",
    0x0B: "the UDP port is not open",
    0x0E: "MAC connection failed: the meter did not answer the association (out of range or busy)",
    0x0F: "not possible while HAN is running, or the operating mode does not allow it",
    0x10: "B-route or HAN has not been started yet",
    0x11: "a parameter has a length outside the permitted range",
    0x12: "too many UDP ports open",
    0x13: "the adapter timed out receiving the command (data did not follow the header within 1 s)",
    0x14: "not possible in the current operating mode (initial settings)",
    0x20: "the HAN acceptance mode is already the one requested",
    0x21: "the HAN acceptance mode cannot be switched in this mode",
    0x33: "not possible while HAN authentication is in progress",
    0x34: "not possible while B-route is running (end PANA or reset first)",
    0x35: "not possible while B-route authentication is in progress",
    0x37: "not possible before the adapter has been started (send initial settings first)",
    0x3C: "a ping was requested again before its notification",
    0x3D: "the adapter is still processing an earlier request",
    0x3E: "the PAN ID equals the B-route PAN ID or 0xFFFF",
    0x3F: "the adapter could not enter deep sleep",
    0x46: "poll request failed",
    0x51: "PANA cannot start: settings missing (B-route ID/password not set, or B-route not started)",
    0x52: "PANA cannot start: a PANA sequence is already running",
    0x53: "PANA failed: no information for the given address",
    0x58: "the B-route ID and password are already set (reset the adapter to change them)",
    0x59: "PANA: the maximum number of authentication entries is reached",
    0x61: "invalid OTA client state",
    0xF0: "the adapter received the command with a bad header checksum",
    0xF1: "the adapter received the command with a bad data checksum",
    0xF2: "the adapter received fewer bytes than the command's message length",
    0xF3: "the command's message length exceeds the adapter's maximum",
}


def describe_result(code: int) -> str:
    """One line for a response result: ``success`` or the cause."""
    if code == SUCCESS:
        return "success"
    return RESULTS.get(code, f"unknown result code 0x{code:02X} (not in the J11 specification's table)")


def describe_command(command: int) -> str:
    """``0x0053 start B-route``, ``0x2053 start B-route (response)``, ``0x6028 PANA result``..."""
    if command in NOTIFICATION_NAMES:
        return f"0x{command:04X} {NOTIFICATION_NAMES[command]}"
    if command & 0xF000 == RESPONSE_FLAG and request_of(command) in REQUEST_NAMES:
        return f"0x{command:04X} {REQUEST_NAMES[request_of(command)]} (response)"
    if command in REQUEST_NAMES:
        return f"0x{command:04X} {REQUEST_NAMES[command]}"
    return f"0x{command:04X}"


# ---- notification fields
PANA_SUCCESS, PANA_REJECTED, PANA_NO_ANSWER = 0x01, 0x02, 0x03
PANA_RESULTS = {
    PANA_SUCCESS: "success",
    PANA_REJECTED: "rejected: the meter refused the B-route ID or password",
    PANA_NO_ANSWER: "no answer: the meter did not reply to the PANA exchange",
}

MAC_CONNECTED, PANA_CONNECTED, MAC_DISCONNECTED, PANA_DISCONNECTED = 0x01, 0x02, 0x03, 0x04
CONNECTION_STATES = {
    MAC_CONNECTED: "MAC connected",
    PANA_CONNECTED: "PANA connected",
    MAC_DISCONNECTED: "MAC disconnected",
    PANA_DISCONNECTED: "PANA disconnected (session ended)",
}

RECEIVE_FAILURES = {
    0x01: "decoding failed",
    0x02: "MAC layer error",
    0x20: "6LoWPAN layer error",
    0x30: "IP layer error",
    0x40: "UDP layer error",
}

TX_SENT, TX_NO_ACK = 0x0, 0x5
TX_RESULTS = {
    TX_SENT: "sent",
    TX_NO_ACK: "no ACK from the meter (retry)",
}


def describe_tx(code: int) -> str:
    return TX_RESULTS.get(code, f"transmission failed (result 0x{code:X})")

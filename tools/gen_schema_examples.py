"""Generates schemas/examples/<topic>/{valid,invalid}/: example payloads for every topic.

Invalid examples are named <field>__<rule>[__<case>] so the contract tests know the reason to
expect (the case tells several examples of one field and rule apart).
Edit here, run `make schemas`, commit both.
"""
import json, os, copy, shutil
import pathlib
import sys
B = sys.argv[1] if len(sys.argv) > 1 else str(pathlib.Path(__file__).resolve().parents[1] / "schemas" / "examples")
shutil.rmtree(B, ignore_errors=True)
U = "SE2321000180-E00101"  # a Dalarna unit
def w(topic, kind, name, obj=None, raw=None):
    d = f"{B}/{topic}/{kind}"; os.makedirs(d, exist_ok=True)
    if raw is not None:
        open(f"{d}/{name}", "wb").write(raw)
    else:
        open(f"{d}/{name}.json", "w").write(json.dumps(obj, indent=2, ensure_ascii=False) + "\n")
def ev(i, t, at, **kw):
    e = {"schema_version": 1, "event_id": f"0b5c6a3e-8f1d-4c2a-9e7b-{i:012d}", "event_type": t, "occurred_at": at, "unit_id": U}
    e.update(kw); return e
P = "vardpuls.phone.v1"
rec = ev(1, "call_received", "2026-03-29T08:02:11+02:00", call_id="c-000123", line="primary_care", in_phone_hours=True)
w(P, "valid", "call_received", rec)
w(P, "valid", "call_answered", ev(2, "call_answered", "2026-03-29T08:05:40+02:00", call_id="c-000123", line="primary_care", queue_wait_seconds=209))
w(P, "valid", "callback_booked", ev(3, "callback_booked", "2026-10-25T02:30:00+01:00", call_id="c-000124", line="primary_care"))
w(P, "valid", "callback_completed", ev(4, "callback_completed", "2026-10-25T14:10:00+01:00", call_id="c-000124", line="primary_care", reached=True))
w(P, "valid", "call_abandoned", ev(5, "call_abandoned", "2026-03-29T06:01:00Z", call_id="c-000125", line="primary_care", queue_wait_seconds=75))
w(P, "valid", "call_received_1177", ev(6, "call_received", "2026-11-23T19:44:00+01:00", call_id="1177-88812", line="1177", in_phone_hours=True))
def bad(topic, base, name, **changes):
    e = copy.deepcopy(base)
    for k, v in changes.items():
        if v is DEL: e.pop(k, None)
        else: e[k] = v
    w(topic, "invalid", name, e)
DEL = object()
bad(P, rec, "unit_id__hsa_id_format", unit_id="SE232100018-E001")
bad(P, rec, "unit_id__missing_field", unit_id=DEL)
bad(P, rec, "event_id__uuid_format", event_id="not-a-uuid")
bad(P, rec, "occurred_at__timestamp_format", occurred_at="2026-03-29 08:02:11")
bad(P, rec, "occurred_at__timestamp_range", occurred_at="1999-03-29T08:02:11+02:00")
# The edges where RFC 3339, JSON Schema and a UTC reading could disagree: the year as written
# decides, and only the upper-case T and Z of the contract's pattern.
w(P, "valid", "occurred_at_last_hour_of_2099_west_of_utc", dict(rec, occurred_at="2099-12-31T23:30:00-01:00"))
w(P, "valid", "occurred_at_first_hour_of_2000_east_of_utc", dict(rec, occurred_at="2000-01-01T00:30:00+01:00"))
bad(P, rec, "occurred_at__timestamp_format__space_for_t", occurred_at="2026-12-01 08:02:11+01:00")
bad(P, rec, "occurred_at__timestamp_format__lower_case_t", occurred_at="2026-12-01t08:02:11+01:00")
bad(P, rec, "occurred_at__timestamp_format__lower_case_z", occurred_at="2026-12-01T07:02:11z")
bad(P, rec, "occurred_at__timestamp_format__leap_second", occurred_at="2026-12-31T23:59:60Z")
bad(P, rec, "occurred_at__timestamp_range__year_2100_as_written", occurred_at="2100-01-01T00:30:00+01:00")
# Personal identity numbers: in the unit part of an HSA-id, and spelt with JSON escapes.
bad(P, rec, "unit_id__personal_identity_number", unit_id="SE2321000180-198112189876")
bad(P, rec, "unit_id__personal_identity_number__samordningsnummer", unit_id="SE2321000180-198112789876")
w(P, "invalid", "call_id__personal_identity_number__json_escaped.json",
  raw=json.dumps(rec).replace('"c-000123"', '"' + "".join(f"\\u{ord(c):04x}" for c in "19811218-9876") + '"').encode())
# An event id spelt like a number is kept, under an id derived from it (docs/contracts.md).
w(P, "valid", "event_id_spelt_like_a_personal_identity_number", dict(rec, event_id="19811218-9876-4c2a-9e7b-000000000007"))
bad(P, rec, "schema_version__unsupported_version", schema_version=2)
bad(P, rec, "event_type__unknown_value", event_type="call_transferred")
bad(P, rec, "line__unknown_value", line="dental")
bad(P, rec, "in_phone_hours__missing_field", in_phone_hours=DEL)
bad(P, rec, "in_phone_hours__invalid_type", in_phone_hours="yes")
bad(P, rec, "call_id__personal_identity_number", call_id="19811218-9876")
bad(P, rec, "call_id__field_too_long", call_id="c" * 65)
bad(P, rec, "caller_phone__unknown_field", caller_phone="0701234567")
bad(P, rec, "reached__not_allowed_for_event_type", reached=True)
bad(P, ev(7, "call_answered", "2026-03-29T08:05:40+02:00", call_id="c-1", line="primary_care", queue_wait_seconds=209), "queue_wait_seconds__out_of_range", queue_wait_seconds=90000)
bad(P, ev(8, "callback_completed", "2026-03-29T08:05:40+02:00", call_id="c-1", line="primary_care", reached=True), "reached__missing_field", reached=DEL)
w(P, "invalid", "_message__not_utf8.bin", raw=b'{"schema_version": 1, "call_id": "\xff\xfe"}')
w(P, "invalid", "_message__malformed_json.bin", raw=json.dumps(rec).encode()[:60])
w(P, "invalid", "_message__not_an_object.bin", raw=b'["call_received"]')
w(P, "invalid", "_message__oversized.bin", raw=b'{"pad": "' + b"x" * 70000 + b'"}')

V = "vardpuls.visits.v1"
visit = ev(11, "visit_completed", "2026-03-08T10:30:00+01:00", visit_id="v-55001", patient_ref="p-7f3a9c", profession="doctor", contact_form="physical",
           listed_unit_id="SE2321000180-E00102", assessment={"first_contact_at": "2026-03-05T09:12:00+01:00", "patient_chosen_wait": False})
w(V, "valid", "first_assessment_within_3_days", visit)
w(V, "valid", "distance_phone_nurse", ev(12, "visit_completed", "2026-03-29T09:00:00+02:00", visit_id="v-55002", patient_ref="p-11aa", profession="nurse", contact_form="phone"))
ooc = ev(13, "visit_completed", "2026-11-02T21:15:00+01:00", visit_id="kry-99812", patient_ref="p-2b9e", profession="doctor", contact_form="video",
         out_of_county={"provider": "Kry", "home_region": "20", "contracting_region": "06", "price_sek": "500.00", "patient_fee_sek": "100"})
ooc["unit_id"] = "SE2321000057-K0001"
w(V, "valid", "out_of_county_video_doctor", ooc)
w(V, "valid", "chat_psychologist_patient_chosen_wait", ev(14, "visit_completed", "2026-10-25T02:45:00+02:00", visit_id="v-55003", patient_ref="p-c0ffee", profession="psychologist", contact_form="chat",
   assessment={"first_contact_at": "2026-10-14T08:00:00+02:00", "patient_chosen_wait": True}))
w(V, "valid", "corrected_profession", ev(15, "visit_completed", "2026-03-29T09:00:00+02:00", visit_id="v-55002", patient_ref="p-11aa", profession="doctor", contact_form="phone",
   recorded_at="2026-03-30T08:15:00+02:00"))
w(V, "valid", "visit_cancelled", ev(16, "visit_cancelled", "2026-03-29T09:00:00+02:00", visit_id="v-55002", recorded_at="2026-03-30T09:40:00+02:00"))
bad(V, visit, "recorded_at__timestamp_format", recorded_at="2026-03-30 08:15")
bad(V, visit, "profession__missing_field", profession=DEL)
bad(V, visit, "patient_ref__personal_identity_number", patient_ref="198112189876")
bad(V, visit, "profession__unknown_value", profession="surgeon")
bad(V, visit, "contact_form__missing_field", contact_form=DEL)
bad(V, visit, "listed_unit_id__hsa_id_format", listed_unit_id="VC Mora")
bad(V, visit, "assessment.first_contact_at__inconsistent", assessment={"first_contact_at": "2026-03-09T09:12:00+01:00"})
bad(V, visit, "assessment.first_contact_at__missing_field", assessment={"patient_chosen_wait": True})
bad(V, visit, "assessment.mood__unknown_field", assessment={"first_contact_at": "2026-03-05T09:12:00+01:00", "mood": "ok"})
o = copy.deepcopy(ooc); o["out_of_county"]["price_sek"] = 500.0
w(V, "invalid", "out_of_county.price_sek__invalid_type", o)
o = copy.deepcopy(ooc); o["out_of_county"]["price_sek"] = "500,00"
w(V, "invalid", "out_of_county.price_sek__decimal_format", o)
o = copy.deepcopy(ooc); o["out_of_county"]["home_region"] = "26"
w(V, "invalid", "out_of_county.home_region__region_code", o)
o = copy.deepcopy(ooc); o["out_of_county"]["contracting_region"] = "20"
w(V, "invalid", "out_of_county.contracting_region__inconsistent", o)
o = copy.deepcopy(ooc); o["out_of_county"]["patient_fee_sek"] = "600"
w(V, "invalid", "out_of_county.patient_fee_sek__inconsistent", o)
o = copy.deepcopy(ooc); o["contact_form"] = "physical"
w(V, "invalid", "contact_form__inconsistent", o)
o = copy.deepcopy(ooc); del o["out_of_county"]["provider"]
w(V, "invalid", "out_of_county.provider__missing_field", o)

L = "vardpuls.listings.v1"
lst = ev(21, "listed", "2026-11-23T10:00:00+01:00", patient_ref="p-7f3a9c", kommun_code="2062", channel="e_service_1177")
w(L, "valid", "listed_via_1177", lst)
w(L, "valid", "unlisted", ev(22, "unlisted", "2026-11-23T10:00:00+01:00", patient_ref="p-7f3a9c", kommun_code="2062"))
w(L, "valid", "stock_snapshot", ev(23, "stock_snapshot", "2026-01-01T00:00:00+01:00", listed_count=21593))
bad(L, lst, "kommun_code__kommun_code", kommun_code="2662")
bad(L, lst, "channel__missing_field", channel=DEL)
bad(L, lst, "listed_count__not_allowed_for_event_type", listed_count=12)
bad(L, ev(24, "stock_snapshot", "2026-01-01T00:00:00+01:00", listed_count=21593), "listed_count__out_of_range", listed_count=500000)
bad(L, ev(25, "stock_snapshot", "2026-01-01T00:00:00+01:00", listed_count=21593), "patient_ref__not_allowed_for_event_type", patient_ref="p-1")
bad(L, ev(26, "stock_snapshot", "2026-01-01T00:00:00+01:00"), "listed_count__missing_field")

C = "vardpuls.chats.v1"
chat = ev(31, "chat_started", "2026-11-23T07:59:59+01:00", chat_id="chat-4411", channel="e_service_1177")
w(C, "valid", "chat_started", chat)
w(C, "valid", "corrected_channel", ev(32, "chat_started", "2026-11-23T07:59:59+01:00", chat_id="chat-4411", channel="regional_app", recorded_at="2026-11-24T10:00:00+01:00"))
bad(C, chat, "channel__unknown_value", channel="sms")
bad(C, chat, "chat_id__id_format", chat_id="chat 4411")
bad(C, chat, "chat_id__invalid_type", chat_id=4411)

K = "vardpuls.kpi.v1"
kpi = {"schema_version": 1, "kpi": "same_day_contact", "scope": "unit", "scope_id": U, "grain": "day", "period": "2026-03-29",
       "dimensions": {}, "numerator": "87", "denominator": "96", "value": 0.90625, "final": False,
       "live": {"met": 87, "missed": 3, "pending": 6, "best_value": 0.96875, "worst_value": 0.90625}, "updated_at": "2026-03-29T09:12:00Z"}
w(K, "valid", "same_day_contact_live", kpi)
w(K, "valid", "out_of_county_cost_month", {"schema_version": 1, "kpi": "out_of_county_digital_cost_sek", "scope": "region", "scope_id": "20", "grain": "month", "period": "2026-11",
   "dimensions": {"provider": "Kry", "profession": "doctor"}, "numerator": "1234500.00", "denominator": None, "value": 1234500.0, "final": True, "updated_at": "2026-12-03T00:00:00Z"})
bad(K, kpi, "final__missing_field", final=DEL)
bad(K, kpi, "scope__unknown_value", scope="county")
A = "vardpuls.alerts.v1"
al = {"schema_version": 1, "alert": "VardpulsKpiAtRisk", "state": "firing", "severity": "page", "scope": "unit", "scope_id": U, "kpi": "same_day_contact",
      "summary": "Vårdcentral Mora: same_day_contact is at risk (day)",
      "labels": {"alertname": "VardpulsKpiAtRisk", "severity": "page", "kpi": "same_day_contact", "scope": "unit", "scope_id": U, "grain": "day", "region": "20", "name": "Vårdcentral Mora"},
      "fingerprint": "8a3f2c1d9e0b4a57", "changed_at": "2026-03-29T09:15:00Z"}
w(A, "valid", "firing", al)
w(A, "valid", "pipeline_resolved", {"schema_version": 1, "alert": "VardpulsServiceDown", "state": "resolved", "severity": "page",
  "summary": "aggregator is down", "labels": {"alertname": "VardpulsServiceDown", "severity": "page", "job": "vardpuls-aggregator"},
  "fingerprint": "1f0e2d3c4b5a6978", "changed_at": "2026-03-29T09:20:00Z"})
bad(A, al, "state__unknown_value", state="flapping")
D = "vardpuls.dlq.v1"
dl = {"schema_version": 1, "rejected_at": "2026-03-29T09:00:00Z", "intended_topic": "vardpuls.phone.v1",
      "source": {"kind": "kafka", "topic": "vardpuls.phone.v1", "partition": 3, "offset": 1042},
      "reason": {"field": "unit_id", "rule": "hsa_id_format", "detail": "`SE232` is not an HSA-id"}, "raw_base64": "eyJ1bml0X2lkIjoiU0UyMzIifQ==", "raw_size_bytes": 20, "redacted": False}
w(D, "valid", "from_kafka", dl)
w(D, "valid", "from_file", dict(dl, source={"kind": "file", "path": "export/phone-2026-03.csv", "line": 17}))
w(D, "valid", "oversized_cut_from_http", dict(dl, source={"kind": "http", "line": 3},
  reason={"field": ".", "rule": "oversized", "detail": "message is 768000 bytes; the limit is 65536"},
  raw_base64="eyJwYWQiOiAieHh4", raw_size_bytes=768000, raw_truncated=True,
  raw_sha256="4a5c6b1e0f2d3c4b5a69788796a5b4c3d2e1f00112233445566778899aabbccd"))
bad(D, dl, "reason__missing_field", reason=DEL)
LT = "vardpuls.late.v1"
w(LT, "valid", "late_callback", {"schema_version": 1, "routed_at": "2026-03-31T09:00:00Z", "source_topic": "vardpuls.phone.v1", "partition": 2, "offset": 77,
   "day": "2026-03-29", "reason": "day 2026-03-29 is final (allowed lateness 24h ended 2026-03-30T22:00:00Z)",
   "event": ev(4, "callback_completed", "2026-03-29T14:10:00+02:00", call_id="c-000124", line="primary_care", reached=True)})
bad(LT, {"schema_version": 1, "routed_at": "2026-03-31T09:00:00Z", "source_topic": "vardpuls.phone.v1", "partition": 2, "offset": 77, "day": "2026-03-29", "reason": "x", "event": {}}, "event__missing_field", event=DEL)
print("ok")

"""Generates schemas/*.schema.json: the event contracts, one JSON Schema (draft 2020-12) per topic.

The schemas are the checked-in source for producers; this generator keeps their shared
definitions identical. Edit here, run `make schemas`, commit both. `make test` fails when the
checked-in schemas differ from what this writes.
"""
import json, os
import pathlib
import sys
OUT = sys.argv[1] if len(sys.argv) > 1 else str(pathlib.Path(__file__).resolve().parents[1] / "schemas")
MMDD = r"(0[1-9]|1[0-2])(0[1-9]|[12][0-9]|3[01]|6[1-9]|[78][0-9]|9[01])"
D8 = r"(18|19|20)[0-9]{2}" + MMDD
D6 = r"[0-9]{2}" + MMDD
PNR = r"(^|[^A-Za-z0-9])(" + D8 + r"[0-9]{4}|" + D8 + r"[-+][0-9]{4}|" + D6 + r"[-+][0-9]{4})([^A-Za-z0-9]|$)"
def opaque(desc, maxlen=64, space=False):
    pat = r"^[A-Za-z0-9_.:\- ]+$" if space else r"^[A-Za-z0-9_.:\-]+$"
    if space: pat = r"^[\p{L}0-9_.:\- ]+$".replace(r"\p{L}", "A-Za-zÅÄÖåäöÉéÜü")
    return {"type": "string", "minLength": 1, "maxLength": maxlen, "pattern": pat,
            "not": {"pattern": PNR}, "description": desc + " Never a personal identity number."}
common = {
  "schema_version": {"const": 1, "description": "Contract version; only 1 is accepted by this topic."},
  "event_id": {"type": "string", "format": "uuid", "pattern": "^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$",
               "description": "Idempotency key chosen by the producer: the same event sent twice carries the same id and counts once."},
  "occurred_at": {"type": "string", "format": "date-time",
                  "pattern": r"^(20[0-9]{2})-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}(\.[0-9]+)?(Z|[+-][0-9]{2}:[0-9]{2})$",
                  "description": "RFC 3339 instant with an explicit offset (Z or +hh:mm). Years 2000-2099."},
  "unit_id": {"$ref": "#/$defs/hsa_id", "description": "HSA-id of the care unit. Also the Kafka message key."},
}
def recorded_at(thing):
    return common["occurred_at"] | {"description": f"When the source system recorded this version of the {thing}. Of several versions of one {thing} (same unit_id, {thing}_id and local day of occurred_at) the one recorded last counts; a version with recorded_at beats one without; then the greatest event_id. No later than the time it is produced, give or take the tolerance for clocks."}
defs = {
  "hsa_id": {"type": "string", "maxLength": 31, "pattern": "^SE[0-9]{10}-[A-Za-z0-9]+$", "not": {"pattern": PNR},
             "description": "HSA-id: SE + 10-digit organisation number + '-' + letters/digits, at most 31 characters. The unit part is never a personal identity number."},
  "region_code": {"enum": ["01","03","04","05","06","07","08","09","10","12","13","14","17","18","19","20","21","22","23","24","25"],
                  "description": "SCB län code (a region)."},
  "kommun_code": {"type": "string", "pattern": "^(01|03|04|05|06|07|08|09|10|12|13|14|17|18|19|20|21|22|23|24|25)[0-9]{2}$",
                  "description": "SCB kommun code: 4 digits, the first two the län."},
  "sek": {"type": "string", "pattern": r"^[0-9]+(\.[0-9]{1,2})?$", "description": "Amount in SEK as an exact decimal string, at most 2 decimals, at most 1 000 000."},
}
os.makedirs(OUT, exist_ok=True)
def schema(topic, title, desc, event_types, props, required, rules, extra_defs=None):
    d = dict(defs); d.update(extra_defs or {})
    p = dict(common); p["event_type"] = {"enum": event_types}; p.update(props)
    s = {"$schema": "https://json-schema.org/draft/2020-12/schema",
         "$id": f"https://vardpuls.example/schemas/{topic}.schema.json",
         "title": title, "description": desc + " Kafka key: unit_id. Messages larger than 65536 bytes are refused.",
         "type": "object", "additionalProperties": False,
         "required": ["schema_version","event_id","event_type","occurred_at","unit_id"] + required,
         "properties": p, "$defs": d}
    if rules: s["allOf"] = rules
    json.dump(s, open(f"{OUT}/{topic}.schema.json","w"), indent=2, ensure_ascii=False); open(f"{OUT}/{topic}.schema.json","a").write("\n")
def when(t, required=(), forbidden=()):
    then = {}
    if required: then["required"] = list(required)
    if forbidden: then["not"] = {"anyOf": [{"required": [f]} for f in forbidden]}
    return {"if": {"properties": {"event_type": {"const": t}}}, "then": then}
def when_in(ts, required=(), forbidden=()):
    then = {}
    if required: then["required"] = list(required)
    if forbidden: then["not"] = {"anyOf": [{"required": [f]} for f in forbidden]}
    return {"if": {"properties": {"event_type": {"enum": ts}}}, "then": then}

schema("vardpuls.phone.v1", "Telephone call events",
  "The life of a call to a vårdcentral or to 1177: received, answered, callback booked and completed, abandoned. Events of one call share call_id.",
  ["call_received","call_answered","callback_booked","callback_completed","call_abandoned"],
  {"call_id": opaque("Links the events of one call."),
   "line": {"enum": ["primary_care","1177"], "description": "primary_care: the unit's own line (same-day contact KPI); 1177: 1177 Vårdguiden på telefon (wait KPIs)."},
   "in_phone_hours": {"type": "boolean", "description": "call_received only: the call came within the unit's telefontid. Calls outside do not count."},
   "queue_wait_seconds": {"type": "integer", "minimum": 0, "maximum": 86400, "description": "call_answered (required) and call_abandoned (optional): seconds in queue."},
   "reached": {"type": "boolean", "description": "callback_completed only: the patient was reached."}},
  ["call_id","line"],
  [when("call_received", ["in_phone_hours"]), when_in(["call_answered","callback_booked","callback_completed","call_abandoned"], forbidden=["in_phone_hours"]),
   when("call_answered", ["queue_wait_seconds"]), when_in(["call_received","callback_booked","callback_completed"], forbidden=["queue_wait_seconds"]),
   when("callback_completed", ["reached"]), when_in(["call_received","call_answered","callback_booked","call_abandoned"], forbidden=["reached"])])

schema("vardpuls.visits.v1", "Completed visits",
  "Completed visits, physical and distance (phone, video, chat/e-service), with the first-assessment facts for the 3-day KPI and the price facts of digital out-of-county contacts. A visit sent again with the same visit_id on the same local day is a new version of it (a correction) and replaces it; visit_cancelled, dated at the visit it cancels, takes it out.",
  ["visit_completed","visit_cancelled"],
  {"visit_id": opaque("The source system's visit id: versions of one visit (corrections, a cancellation) share it."),
   "recorded_at": recorded_at("visit"),
   "patient_ref": opaque("Pseudonymous patient reference, stable per patient within a region's export."),
   "profession": {"enum": ["doctor","nurse","physiotherapist","psychologist","occupational_therapist","counsellor","dietitian","other"]},
   "contact_form": {"enum": ["physical","phone","video","chat"], "description": "Distance = phone, video, chat. Digital = video, chat."},
   "listed_unit_id": {"$ref": "#/$defs/hsa_id", "description": "Unit the patient is listed at, when known."},
   "assessment": {"type": "object", "additionalProperties": False, "required": ["first_contact_at"],
                  "description": "Present when this visit was the first medical assessment of a new or worsened care need. first_contact_at must not be after occurred_at.",
                  "properties": {"first_contact_at": common["occurred_at"] | {"description": "First contact with primary care about this care need."},
                                 "patient_chosen_wait": {"type": "boolean", "default": False, "description": "The patient chose a later time: excluded from the 3-day KPI."}}},
   "out_of_county": {"type": "object", "additionalProperties": False,
                     "required": ["provider","home_region","contracting_region","price_sek","patient_fee_sek"],
                     "description": "Digital contact (contact_form video or chat) with a provider contracted by another region. contracting_region differs from home_region; patient_fee_sek does not exceed price_sek.",
                     "properties": {"provider": opaque("Provider name, e.g. Kry, Min Doktor.", 80, True),
                                    "home_region": {"$ref": "#/$defs/region_code"}, "contracting_region": {"$ref": "#/$defs/region_code"},
                                    "price_sek": {"$ref": "#/$defs/sek"}, "patient_fee_sek": {"$ref": "#/$defs/sek"}}}},
  ["visit_id"], [when("visit_completed", ["patient_ref","profession","contact_form"])])

schema("vardpuls.listings.v1", "Listing changes and stock snapshots",
  "Patients listing at (listed) and leaving (unlisted) a unit, and stock_snapshot records that load a unit's list size at a point in time without its history.",
  ["listed","unlisted","stock_snapshot"],
  {"patient_ref": opaque("Pseudonymous patient reference."),
   "kommun_code": {"$ref": "#/$defs/kommun_code", "description": "The patient's home kommun."},
   "channel": {"enum": ["e_service_1177","form","automatic"], "description": "How the listing was made; required for listed."},
   "listed_count": {"type": "integer", "minimum": 0, "maximum": 200000, "description": "stock_snapshot only: listed patients at occurred_at."}},
  [],
  [when_in(["listed","unlisted"], ["patient_ref","kommun_code"], ["listed_count"]), when("listed", ["channel"]),
   when("stock_snapshot", ["listed_count"], ["patient_ref","kommun_code","channel"])])

schema("vardpuls.chats.v1", "Chats started",
  "Chats started with a unit. Chats do not count toward the telephone KPI. A chat sent again with the same chat_id on the same local day is a new version of it (a correction) and replaces it.",
  ["chat_started"],
  {"chat_id": opaque("The chat system's id: versions of one chat share it."),
   "recorded_at": recorded_at("chat"),
   "channel": {"enum": ["e_service_1177","regional_app","other"]}},
  ["chat_id","channel"], [])

def out_schema(topic, title, desc, props, required, extra=None):
    s = {"$schema": "https://json-schema.org/draft/2020-12/schema",
         "$id": f"https://vardpuls.example/schemas/{topic}.schema.json",
         "title": title, "description": desc, "type": "object", "additionalProperties": False,
         "required": required, "properties": props}
    if extra: s.update(extra)
    json.dump(s, open(f"{OUT}/{topic}.schema.json","w"), indent=2, ensure_ascii=False); open(f"{OUT}/{topic}.schema.json","a").write("\n")
dec = {"type": "string", "pattern": r"^-?[0-9]+(\.[0-9]+)?$"}
ts = {"type": "string", "format": "date-time"}
scope = {"enum": ["unit","kommun","region"]}
out_schema("vardpuls.kpi.v1", "KPI upserts",
  "One KPI value per (kpi, scope, scope_id, period, dimensions). Kafka key: kpi/scope/scope_id/period[/dim=value...]. The topic is log-compacted; the latest record per key is the value.",
  {"schema_version": {"const": 1}, "kpi": {"type": "string", "pattern": "^[a-z0-9_]+$"}, "scope": scope, "scope_id": {"type": "string", "minLength": 1},
   "grain": {"enum": ["day","month"]}, "period": {"type": "string", "pattern": r"^[0-9]{4}-[0-9]{2}(-[0-9]{2})?$", "description": "Local (Europe/Stockholm) day YYYY-MM-DD or month YYYY-MM."},
   "dimensions": {"type": "object", "additionalProperties": {"type": "string"}},
   "numerator": dec | {"description": "Exact decimal string."}, "denominator": {"anyOf": [dec, {"type": "null"}]},
   "value": {"type": ["number","null"]},
   "final": {"type": "boolean", "description": "True once the period's values are final: the partition's event-time progress has passed the end of the period's last local day plus aggregator.allowed_lateness_hours. A final value changes only by restatement (revision)."},
   "revision": {"type": "integer", "minimum": 0, "description": "How often this final value was restated: republished, changed, because events for its period arrived after it was final. 0 for values not final and as first made final; absent in records written before restatement: 0."},
   "live": {"type": "object", "additionalProperties": False, "required": ["met","missed","pending","best_value","worst_value"],
            "properties": {"met": {"type":"integer","minimum":0}, "missed": {"type":"integer","minimum":0}, "pending": {"type":"integer","minimum":0},
                           "best_value": {"type": ["number","null"]}, "worst_value": {"type": ["number","null"]}}},
   "cases": {"type": "integer", "minimum": 0, "description": "How many cases (contacts, listings) the value rests on where neither the denominator nor the numerator counts them: the contacts behind a sum of money, the listings and unlistings behind a net change. Absent otherwise. Small-cell suppression reads it."},
   "updated_at": ts},
  ["schema_version","kpi","scope","scope_id","grain","period","numerator","denominator","value","final","updated_at"])
out_schema("vardpuls.alerts.v1", "Alert state changes",
  "An alert starting (firing) or ending (resolved), as Alertmanager reported it to HTTP ingest (POST /v1/alerts): the alert history. KPI alerts name their scope; pipeline alerts have none. Kafka key: alert/fingerprint.",
  {"schema_version": {"const": 1}, "alert": {"type": "string", "minLength": 1}, "state": {"enum": ["firing","resolved"]},
   "severity": {"enum": ["page","ticket","info"]}, "scope": scope, "scope_id": {"type": "string", "minLength": 1},
   "kpi": {"type": "string"}, "period": {"type": "string"}, "value": {"type": "number"}, "target": {"type": "number"},
   "summary": {"type": "string"},
   "labels": {"type": "object", "additionalProperties": {"type": "string"}, "description": "Every label of the alert."},
   "fingerprint": {"type": "string", "minLength": 1, "description": "Alertmanager's fingerprint of the labels: an alert's firing and its resolution share it."},
   "changed_at": ts | {"description": "When it started firing, or when it ended."}},
  ["schema_version","alert","state","severity","summary","fingerprint","changed_at"])
out_schema("vardpuls.dlq.v1", "Dead letters",
  "Refused input: the raw bytes (base64), where they came from, which field broke which rule, and when.",
  {"schema_version": {"const": 1}, "rejected_at": ts, "intended_topic": {"type": "string"},
   "source": {"oneOf": [
      {"type": "object", "additionalProperties": False, "required": ["kind","topic","partition","offset"],
       "properties": {"kind": {"const": "kafka"}, "topic": {"type": "string"}, "partition": {"type": "integer"}, "offset": {"type": "integer"}}},
      {"type": "object", "additionalProperties": False, "required": ["kind","path","line"],
       "properties": {"kind": {"const": "file"}, "path": {"type": "string"}, "line": {"type": "integer", "minimum": 1},
                      "column": {"type": "string", "description": "The export's column at fault, when an import mapping knows it."}}},
      {"type": "object", "additionalProperties": False, "required": ["kind","line"],
       "properties": {"kind": {"const": "http"}, "line": {"type": "integer", "minimum": 1}}},
      {"type": "object", "additionalProperties": False, "required": ["kind","mapping","line"],
       "properties": {"kind": {"const": "http_export"}, "mapping": {"type": "string", "description": "The mapping the export was posted to."},
                      "line": {"type": "integer", "minimum": 1},
                      "column": {"type": "string", "description": "The export's column at fault, when the mapping knows it."}}}]},
   "reason": {"type": "object", "additionalProperties": False, "required": ["field","rule","detail"],
              "properties": {"field": {"type": "string"}, "rule": {"type": "string", "pattern": "^[a-z0-9_]+$"}, "detail": {"type": "string"}}},
   "raw_base64": {"type": "string", "contentEncoding": "base64", "description": "The refused bytes, exactly, except that personal-identity-number-shaped tokens (also when spelt with JSON escapes) are masked with X, and that at most the first 65536 bytes are kept (raw_truncated)."},
   "raw_size_bytes": {"type": "integer", "minimum": 0, "description": "Size of the refused input, before any cut."},
   "raw_truncated": {"type": "boolean", "description": "True when raw_base64 holds only the first 65536 bytes of a larger input. Absent in dead letters written before this field: false."},
   "raw_sha256": {"type": "string", "pattern": "^[0-9a-f]{64}$", "description": "SHA-256 (hex) of the whole input after masking, so a cut copy can still be matched with the producer's record. Absent in dead letters written before this field."},
   "redacted": {"type": "boolean", "description": "True when raw_base64 had personal-identity-number-shaped tokens masked."}},
  ["schema_version","rejected_at","intended_topic","source","reason","raw_base64","raw_size_bytes","redacted"])
out_schema("vardpuls.late.v1", "Late events",
  "Valid events whose local day is closed and can no longer be restated: older than the restatement horizon (aggregator.retention_days) before the partition's progress, or closed by a version that kept no events of closed days. Not counted in KPI state; kept whole (as decoded) with the reason.",
  {"schema_version": {"const": 1}, "routed_at": ts, "source_topic": {"type": "string"}, "partition": {"type": "integer"}, "offset": {"type": "integer"},
   "day": {"type": "string", "pattern": r"^[0-9]{4}-[0-9]{2}-[0-9]{2}$"}, "reason": {"type": "string"}, "event": {"type": "object"}},
  ["schema_version","routed_at","source_topic","partition","offset","day","reason","event"])
print("ok")

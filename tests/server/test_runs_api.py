"""The JSON API over the generated runs directory (tests/server/runs_fixture.py): what each route
answers, and that each finding's onset is the checkpoint where the fixture planted it."""

from __future__ import annotations

from fourlens.report import Report


def by_title(causes: list[dict], words: str) -> dict:
    everything = causes + [s for c in causes for s in c["chain"]]
    return next(c for c in everything if words in c["title"])


def test_api_index_lists_every_route(client):
    routes = client.get("/api").json()["routes"]
    paths = {r["path"].split("?")[0] for r in routes}
    for path in ("/api/checkpoints", "/api/overview", "/api/report", "/api/training/curves", "/api/behavior/flips",
                 "/api/behavior/item", "/api/data", "/api/transformer/attention", "/api/vision/upload"):
        assert path in paths


def test_checkpoints_in_step_order(client):
    body = client.get("/api/checkpoints").json()
    assert [(c["id"], c["step"], c["ok"]) for c in body["checkpoints"]] == [
        (f"ckpt-{k}000", k * 1000, True) for k in range(1, 6)]
    assert body["checkpoints"][0]["evidence"] == {"training_logs": 1, "evals": 4, "agent_traces": 1, "data": 1,
                                                  "weights": 1}
    assert body["problem"] is None and body["root"] == "dashboard-runs"


def test_overview_defaults_to_the_latest_against_the_previous(client):
    body = client.get("/api/overview").json()
    assert body["status"] == "ready"
    assert (body["baseline"]["id"], body["candidate"]["id"]) == ("ckpt-4000", "ckpt-5000")
    assert set(body["timeline"]) == {"capability", "safety", "latency", "loss"}
    capability = body["timeline"]["capability"]
    # a band (upper, lower filled to it) and a line per task, one point per checkpoint
    assert [t["name"] for t in capability["data"]] == ["code (exact_match,none) high", "code (exact_match,none) 95% CI",
                                                       "code (exact_match,none)", "math (exact_match,none) high",
                                                       "math (exact_match,none) 95% CI", "math (exact_match,none)"]
    assert capability["data"][2]["x"] == [1000, 2000, 3000, 4000, 5000]
    assert capability["data"][1]["fill"] == "tonexty"
    code = capability["data"][2]["y"]
    assert code[0] == code[1] > code[2] > code[3] > code[4]    # planted: hard code items fail from step 3,000
    contamination = by_title(body["causes"], "of 120 items")
    assert contamination["lens"] == "data" and contamination["onset"]["checkpoint"] == "ckpt-5000"
    assert contamination["href"].startswith("/data?baseline=ckpt-4000&candidate=ckpt-5000")


def test_onsets_are_found_by_bisecting_from_a_chosen_baseline(client):
    body = client.get("/api/overview?baseline=ckpt-1000").json()
    assert body["status"] == "ready" and body["baseline"]["id"] == "ckpt-1000"
    onset = {words: by_title(body["causes"], words)["onset"]["checkpoint"]
             for words in ("code exact_match", "lr schedule at step 2,500", "safety attack success",
                           "domain 'code' fell", "of 120 items", "agent p95 latency")}
    assert onset == {"code exact_match": "ckpt-3000", "lr schedule at step 2,500": "ckpt-3000",
                     "safety attack success": "ckpt-4000", "domain 'code' fell": "ckpt-3000",
                     "of 120 items": "ckpt-5000", "agent p95 latency": "ckpt-4000"}
    flips = body["flips"]
    assert flips["n"] == flips["right_to_wrong"] > 0
    assert [row["checkpoint"] for row in flips["by_checkpoint"]] == ["ckpt-3000", "ckpt-4000", "ckpt-5000"]
    assert sum(row["count"] for row in flips["by_checkpoint"]) == flips["n"]
    marks = {panel: {a["text"]: a["x"] for a in figure["layout"]["annotations"]}
             for panel, figure in body["timeline"].items()}
    assert marks["capability"] == {"baseline ckpt-1000": 1000, "candidate ckpt-5000": 5000,
                                   "code exact_match,none began": 3000}
    assert [x for text, x in marks["safety"].items() if text.startswith("safety attack success")] == [4000]
    assert marks["loss"]["lr schedule at step began"] == 3000


def test_report_route_is_the_triage_report(client):
    body = client.get("/api/report?baseline=ckpt-1000&candidate=ckpt-5000").json()
    report = Report.from_dict(body)
    assert (report.baseline, report.candidate) == ("ckpt-1000", "ckpt-5000")
    assert {s.name: s.state for s in report.lenses} == {"behavior": "ok", "training": "ok", "weights": "ok",
                                                         "transformer": "ok", "data": "ok"}


def test_training_view_and_curves(client):
    body = client.get("/api/training?baseline=ckpt-1000&candidate=ckpt-5000").json()
    assert body["status"] == "ready" and body["signals"][:3] == ["loss", "grad_norm", "lr"]
    assert body["with_logs"] == [f"ckpt-{k}000" for k in range(1, 6)]
    assert any("lr schedule" in f["title"] for f in body["findings"]["ranked"])
    figure = client.get("/api/training/curves?checkpoints=ckpt-1000,ckpt-5000&signal=lr"
                        "&baseline=ckpt-1000&candidate=ckpt-5000").json()
    assert [t["name"] for t in figure["data"]] == ["ckpt-1000", "ckpt-5000"]
    assert max(figure["data"][0]["x"]) == 1000 and max(figure["data"][1]["x"]) == 5000
    assert max(figure["data"][1]["y"]) > 20 * max(figure["data"][0]["y"])   # the 25x LR fault at step 2,500
    assert 2500 in [shape["x0"] for shape in figure["layout"]["shapes"]]     # the finding marked at its step


def test_scaling_law_plot(client):
    body = client.get("/api/training/scaling?candidate=ckpt-5000").json()
    assert body["status"] == "ready" and body["message"] is None
    names = [t.get("name") for t in body["figure"]["data"]]
    assert "runs" in names and "flagged" in names   # the candidate marked (n_params, n_tokens in its manifest)


def test_behavior_view_flips_and_item(client):
    pair = "baseline=ckpt-1000&candidate=ckpt-5000"
    body = client.get(f"/api/behavior?{pair}").json()
    assert body["status"] == "ready"
    assert {r["task"] for r in body["table"]} == {"code", "math", "safety"}
    assert body["forest"]["data"][0]["error_x"]["type"] == "data"
    assert body["flips"]["tasks"] == ["code", "safety"]
    assert body["flips"]["onsets"] == ["ckpt-3000", "ckpt-4000", "ckpt-5000"]
    cells = body["safety"]["figure"]["data"][0]
    assert cells["y"] == ["direct", "gcg", "roleplay"] and max(cells["z"][2]) > 0.3   # roleplay rose
    assert body["latency"]["slowest"][0]["latency_s"] >= body["latency"]["slowest"][-1]["latency_s"]
    assert client.get(f"/api/behavior/flips?{pair}&limit=500").json()["total"] == body["flips"]["n"]
    everything = client.get(f"/api/behavior/flips?{pair}&task=code&limit=500").json()
    at_3000 = client.get(f"/api/behavior/flips?{pair}&onset=ckpt-3000&limit=500").json()
    assert 0 < at_3000["total"] < body["flips"]["n"] and {r["onset"] for r in at_3000["items"]} == {"ckpt-3000"}
    first = everything["items"][0]
    searched = client.get(f"/api/behavior/flips?{pair}&q=f_{first['item_id']}%20").json()
    assert [r["item_id"] for r in searched["items"]] == [first["item_id"]]
    assert client.get(f"/api/behavior/flips?{pair}&task=math").json()["total"] == 0
    roleplay = client.get(f"/api/behavior/flips?{pair}&task=safety&limit=500").json()["items"]
    assert roleplay and {r["item_id"].split("|")[1] for r in roleplay} == {"roleplay"}
    page = client.get(f"/api/behavior/flips?{pair}&offset=5&limit=3").json()
    assert [r["item_id"] for r in page["items"]] == [r["item_id"] for r in everything["items"][5:8]]
    item = client.get(f"/api/behavior/item?{pair}&task=code&metric=exact_match,none&item_id={first['item_id']}").json()
    assert item["prompt_field"] == "question" and item["prompt"].startswith(f"Task {first['item_id']}:")
    assert item["baseline"]["score"] == 1.0 and item["candidate"]["score"] == 0.0
    assert f'"answer-{first["item_id"]}"' in item["baseline"]["response"]   # lm-eval's filtered_resps, as read
    assert "wrong-" in item["candidate"]["response"]
    assert item["onset"] == first["onset"] and item["attributes"]["difficulty"] == "hard"


def test_data_view_highlights_the_matched_span(client):
    body = client.get("/api/data").json()
    assert body["status"] == "ready"
    assert {f["title"] for f in body["figures"]} >= {"Domain mix (share of tokens)"}
    found = body["contamination"]
    assert found["n_flagged"] == 20 and {r["eval_set"] for r in found["items"]} == {"math"}
    for row in found["items"]:
        assert row["match"] and row["match"] in row["before"] + row["match"] + row["after"]
        assert len(row["match"].split()) >= 13


def test_transformer_view_and_attention(client):
    body = client.get("/api/transformer?baseline=ckpt-1000").json()
    assert body["status"] == "ready" and body["with_model"] == [f"ckpt-{k}000" for k in range(1, 6)]
    titles = [f["title"] for f in body["figures"]]
    assert "linear CKA between the checkpoints per layer" in titles
    answer = client.post("/api/transformer/attention?checkpoint=ckpt-5000", json={"text": "The cat sat."}).json()
    assert answer["tokens"] == list("The cat sat.") and (answer["layers"], answer["heads"]) == (2, 4)
    assert answer["html"].startswith("<!doctype html>") and "http" not in answer["html"].split("<style>")[0]


def test_pages_render_the_same_views(client):
    for path, marker in (("/", 'id="causes"'), ("/training", 'id="curves"'), ("/behavior", 'id="flip-table"'),
                         ("/data", 'id="contaminated-items"'), ("/transformer", 'id="attention-form"'),
                         ("/vision", 'id="playground"')):
        page = client.get(path)
        assert page.status_code == 200 and marker in page.text, path
        assert "cdn" not in page.text.lower() and 'src="http' not in page.text
    assert client.get("/static/plotly.min.js").text.startswith("/**")
    assert "drawFigures" in client.get("/static/dashboard.js").text


def test_pinned_baseline_is_the_default(client):
    try:
        assert client.post("/api/pin?checkpoint=ckpt-2000").json() == {"pinned": "ckpt-2000"}
        assert client.get("/api/overview").json()["baseline"]["id"] == "ckpt-2000"
        assert "(pinned)" in client.get("/").text
    finally:
        assert client.delete("/api/pin").json() == {"pinned": None}
    assert client.get("/api/overview").json()["baseline"]["id"] == "ckpt-4000"


def test_a_symptom_that_began_before_its_cause_is_shown(client):
    body = client.get("/api/overview?baseline=ckpt-1000").json()
    order = {f"ckpt-{k}000": k for k in range(1, 6)}
    by_id = {c["id"]: c for c in body["causes"]} | {s["id"]: s for c in body["causes"] for s in c["chain"]}
    for cause in body["causes"]:
        for symptom in cause["chain"]:
            parent = by_id.get(symptom["explained_by"])
            expected = bool(symptom["onset"] and parent and parent["onset"]
                            and order[symptom["onset"]["checkpoint"]] < order[parent["onset"]["checkpoint"]])
            assert symptom["before_cause"] == expected
    page = client.get("/?baseline=ckpt-1000").text
    flagged = sum(s["before_cause"] for c in body["causes"] for s in c["chain"])
    assert page.count("began before the finding ranked as its cause") == flagged

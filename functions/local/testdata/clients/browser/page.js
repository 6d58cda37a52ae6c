// Drives the official browser SDK (@aliyun-sls/web-track-browser) through
// the steps that clients_test.go serves at /plan.json, then checks CORS with
// a preflighted fetch, reports to /report/page and leaves the page so that
// the SDK's beforeunload hook flushes what is still pending.
"use strict";

(async function () {
  const errors = [];
  window.addEventListener("error", (e) => errors.push("error: " + e.message));
  window.addEventListener("unhandledrejection", (e) => errors.push("unhandled rejection: " + e.reason));
  const report = { errors, cors: null, sdk: typeof window.SLS_Tracker };
  try {
    const plan = await (await fetch("/plan.json")).json();
    const trackers = {};
    for (const [name, opts] of Object.entries(plan.trackers)) {
      trackers[name] = new window.SLS_Tracker(opts);
    }
    for (const step of plan.steps) {
      if (step.flushed) {
        await flushed(trackers[step.flushed], errors);
        continue;
      }
      const tracker = trackers[step.tracker];
      if (step.method === "send" || step.method === "sendImmediate") {
        tracker[step.method](step.logs[0]);
      } else {
        tracker[step.method](step.logs);
      }
    }
    report.cors = await corsCheck(plan.cors);
  } catch (e) {
    errors.push("page: " + (e && e.stack ? e.stack : e));
  }
  await fetch("/report/page", { method: "POST", body: JSON.stringify(report) });
  // Leaving the page fires beforeunload, where the SDK flushes its pending logs.
  location.href = "/next.html";
})();

// flushed waits, for at most 10 seconds, until the tracker's timer has fired
// and its queue is empty.
async function flushed(tracker, errors) {
  const deadline = Date.now() + 10000;
  while (tracker.timer !== null || tracker.arr.length > 0) {
    if (Date.now() > deadline) {
      errors.push("the tracker did not flush within 10s");
      return;
    }
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

// corsCheck sends a batch as the OpenAPI SDKs do: application/json with
// x-log-* headers, which makes the browser send a preflight first. The
// answer is readable only if the server's CORS headers allow this origin.
async function corsCheck(c) {
  const body = new TextEncoder().encode(c.body);
  try {
    const r = await fetch(c.url, {
      method: "POST",
      headers: {
        "content-type": "application/json",
        "x-log-apiversion": "0.6.0",
        "x-log-bodyrawsize": String(body.length),
      },
      body,
    });
    return { status: r.status, requestId: r.headers.get("x-log-requestid"), body: await r.text() };
  } catch (e) {
    return { error: String(e) };
  }
}

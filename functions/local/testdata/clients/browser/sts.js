// Drives the official browser SDK in STS mode (@aliyun-sls/web-track-browser
// with @aliyun-sls/web-sts-plugin) through the scenarios that clients_test.go
// serves at /plan.json, one after another, and reports what every
// XMLHttpRequest of each was answered to /report/page. The credentials come
// from /credentials/{name}, as a site's backend would hand them out.
"use strict";

// Every XMLHttpRequest the SDK makes is recorded, with its answer, under the
// scenario that runs; while tampering is on, its body is altered after the
// SDK has signed it.
const xhrs = [];
let scenario = "";
let tamper = false;
const realOpen = XMLHttpRequest.prototype.open;
const realSend = XMLHttpRequest.prototype.send;
XMLHttpRequest.prototype.open = function (method, url, ...rest) {
  this._record = { scenario, method, url, status: 0, errorCode: "", done: false };
  xhrs.push(this._record);
  return realOpen.call(this, method, url, ...rest);
};
XMLHttpRequest.prototype.send = function (body) {
  const rec = this._record;
  if (tamper && typeof body === "string") {
    body = body.replace("tamper-me", "tampered!");
    rec.tampered = true;
  }
  this.addEventListener("loadend", () => {
    rec.status = this.status;
    try {
      rec.errorCode = JSON.parse(this.responseText).errorCode || "";
    } catch (e) {
      rec.errorCode = "";
    }
    rec.done = true;
  });
  return realSend.call(this, body);
};

// skewedDate is Date, minutes off the real clock when built without a time.
function skewedDate(minutes) {
  const RealDate = Date;
  const offset = minutes * 60000;
  return class extends RealDate {
    constructor(...args) {
      if (args.length === 0) {
        super(RealDate.now() + offset);
      } else {
        super(...args);
      }
    }
    static now() {
      return RealDate.now() + offset;
    }
  };
}

(async function () {
  const errors = [];
  window.addEventListener("error", (e) => errors.push("error: " + e.message));
  window.addEventListener("unhandledrejection", (e) => errors.push("unhandled rejection: " + e.reason));
  const report = { errors, sdk: typeof window.SLS_Tracker, plugin: typeof window.stsPlugin, scenarios: {} };
  try {
    const plan = await (await fetch("/plan.json")).json();
    for (const sc of plan.scenarios) {
      scenario = sc.name;
      tamper = !!sc.tamper;
      const RealDate = Date;
      if (sc.skewMinutes) {
        window.Date = skewedDate(sc.skewMinutes);
      }
      try {
        const tracker = new window.SLS_Tracker({ host: plan.host, project: plan.project, logstore: sc.logstore, time: 10, count: 100 });
        if (sc.credentials) {
          // The site's backend answers as STS's AssumeRole does. The plugin
          // gets its first credentials up front: it calls refreshSTSToken
          // on its first send, but sends made meanwhile do not wait for it.
          const fetchCredentials = async () => (await (await fetch("/credentials/" + sc.credentials)).json()).Credentials;
          const opt = { refreshSTSTokenInterval: 300000 };
          const use = (c) => {
            opt.accessKeyId = c.AccessKeyId;
            opt.accessKeySecret = c.AccessKeySecret;
            opt.securityToken = c.SecurityToken;
          };
          use(await fetchCredentials());
          opt.refreshSTSToken = async () => use(await fetchCredentials());
          tracker.useStsPlugin(window.stsPlugin(opt));
        }
        for (const logs of sc.batches) {
          tracker.sendBatchLogsImmediate(logs);
        }
        await answered(sc.name, sc.xhrs, errors);
      } finally {
        window.Date = RealDate;
        tamper = false;
      }
      report.scenarios[sc.name] = xhrs.filter((x) => x.scenario === sc.name);
    }
  } catch (e) {
    errors.push("page: " + (e && e.stack ? e.stack : e));
  }
  await fetch("/report/page", { method: "POST", body: JSON.stringify(report) });
})();

// answered waits, for at most 10 seconds, until n XMLHttpRequests of the
// scenario have their answer.
async function answered(name, n, errors) {
  const deadline = Date.now() + 10000;
  while (xhrs.filter((x) => x.scenario === name && x.done).length < n) {
    if (Date.now() > deadline) {
      errors.push(name + ": " + n + " requests were not answered within 10s");
      return;
    }
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

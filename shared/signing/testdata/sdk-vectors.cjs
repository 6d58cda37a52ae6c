// Writes sdk-vectors.json: requests signed by the real @aliyun-sls/web-sts-plugin
// 0.3.9 at a fixed clock, with the test clients installed (bash .ci/test). Run
// from the repository's root:
//   node shared/signing/testdata/sdk-vectors.cjs > shared/signing/testdata/sdk-vectors.json
const clients = require('node:path').join(process.cwd(), 'functions/local/testdata/clients');
const createStsPlugin = require(require.resolve('@aliyun-sls/web-sts-plugin', { paths: [clients] }));
const fixed = Date.UTC(2026, 10, 25, 21, 30, 0);
const RealDate = Date;
global.Date = class extends RealDate { constructor(...a) { a.length ? super(...a) : super(fixed); } static now() { return fixed; } };
(async () => {
  const out = [];
  for (const [payload, token] of [
    ['{"__logs__":[{"msg":"héllo 日本語 🚀","__time__":1795642200}],"__topic__":"t"}', 'wt1.token'],
    ['{"__logs__":[{"a":"1","__time__":1795642200}]}', ''],
  ]) {
    const opt = { accessKeyId: 'STS.example', accessKeySecret: 'c2VjcmV0LWtleQ', securityToken: token, refreshSTSToken: async () => {} };
    const p = (createStsPlugin.default || createStsPlugin)(opt);
    const r = await p.process('https://my-project.log.example.com/logstores/web', payload);
    out.push({ payload, accessKeySecret: opt.accessKeySecret, headers: r.header });
  }
  console.log(JSON.stringify(out, null, 2));
})();

import { readFileSync, readdirSync, readlinkSync, statSync } from "node:fs";
const pid = 7247;
function t(name, f, n = 20000) { f(); const t0 = process.hrtime.bigint(); for (let i = 0; i < n; i++) f(); console.log(name, (Number(process.hrtime.bigint() - t0) / n / 1000).toFixed(2), "us"); }
t("status", () => readFileSync(`/proc/${pid}/status`, "latin1"));
t("maps", () => readFileSync(`/proc/${pid}/maps`, "latin1"));
t("stat", () => readFileSync(`/proc/${pid}/stat`, "latin1"));
t("readdir fd", () => readdirSync(`/proc/${pid}/fd`));
t("readlink fd/1", () => readlinkSync(`/proc/${pid}/fd/1`));
t("stat fd/1", () => statSync(`/proc/${pid}/fd/1`, {bigint:true}));

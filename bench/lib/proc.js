'use strict';
// Linux /proc helpers: process-tree CPU and RSS without touching the measured processes.
const fs = require('node:fs');
const { execFileSync } = require('node:child_process');

let CLK_TCK = 100;
let PAGE = 4096;
try {
  CLK_TCK = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;
} catch {}
try {
  PAGE = Number(execFileSync('getconf', ['PAGESIZE'], { encoding: 'utf8' }).trim()) || 4096;
} catch {}

// Fields of /proc/<pid>/stat after the ")" that closes comm (which may contain spaces).
function readStat(pid) {
  let s;
  try {
    s = fs.readFileSync(`/proc/${pid}/stat`, 'latin1');
  } catch {
    return null;
  }
  const close = s.lastIndexOf(')');
  const f = s.slice(close + 2).split(' ');
  return {
    pid: Number(pid),
    comm: s.slice(s.indexOf('(') + 1, close),
    state: f[0],
    ppid: Number(f[1]),
    utime: Number(f[11]),
    stime: Number(f[12]),
    cutime: Number(f[13]),
    cstime: Number(f[14]),
    starttime: Number(f[19]),
    rssBytes: Number(f[21]) * PAGE,
  };
}

function allStats() {
  const out = [];
  for (const name of fs.readdirSync('/proc')) {
    const c = name.charCodeAt(0);
    if (c < 48 || c > 57) continue;
    const st = readStat(name);
    if (st) out.push(st);
  }
  return out;
}

// The root process and all its live descendants (zombies included: their CPU is still in their stat).
function tree(rootPid, stats = allStats()) {
  const kids = new Map();
  let root = null;
  for (const st of stats) {
    if (st.pid === rootPid) root = st;
    let a = kids.get(st.ppid);
    if (!a) kids.set(st.ppid, (a = []));
    a.push(st);
  }
  if (!root) return [];
  const res = [root];
  for (let i = 0; i < res.length; i++) {
    for (const k of kids.get(res[i].pid) || []) res.push(k);
  }
  return res;
}

// CPU of a tree in ticks: own time of every live member plus the time of children they have reaped
// (cutime/cstime), so processes that exited and were waited for are still counted.
function treeCpuTicks(members) {
  let t = 0;
  for (const st of members) t += st.utime + st.stime + st.cutime + st.cstime;
  return t;
}

function treeRssBytes(members) {
  let r = 0;
  for (const st of members) if (st.state !== 'Z') r += st.rssBytes;
  return r;
}

// Open file descriptors of a tree's live members (entries of /proc/<pid>/fd; a member that exited
// meanwhile counts 0).
function treeFds(members) {
  let n = 0;
  for (const st of members) {
    if (st.state === 'Z') continue;
    try {
      n += fs.readdirSync(`/proc/${st.pid}/fd`).length;
    } catch {}
  }
  return n;
}

// Busy jiffies of the whole machine (all CPUs) from /proc/stat.
function systemBusyTicks() {
  const line = fs.readFileSync('/proc/stat', 'latin1').split('\n', 1)[0];
  const v = line.trim().split(/\s+/).slice(1).map(Number);
  // user nice system idle iowait irq softirq steal guest guest_nice (guest is already in user)
  return v[0] + v[1] + v[2] + v[5] + v[6] + (v[7] || 0);
}

const ticksToMs = (t) => (t * 1000) / CLK_TCK;

module.exports = {
  CLK_TCK,
  PAGE,
  readStat,
  allStats,
  tree,
  treeCpuTicks,
  treeRssBytes,
  treeFds,
  systemBusyTicks,
  ticksToMs,
};

// The rooms of native/ hold to the arrows native/README.md draws: every `#include "room/..."` under
// native/ goes to the including file's own room or to one its arrows reach, the arrows have no
// cycle, and CMakeLists.txt links each room (ctn_room and target_link_libraries) to exactly the
// rooms of its arrows. (The build refuses what the arrows forbid, too: the ctest rooms_refuse_*.)
const fs = require('node:fs');
const path = require('node:path');

const root = path.join(__dirname, '..', '..');
const nativeDir = path.join(root, 'native');

/** room -> the rooms its arrows name, from the table under "## Arrows" (| room | arrows to |). */
function readArrows() {
  const text = fs.readFileSync(path.join(nativeDir, 'README.md'), 'utf8');
  const section = text.split(/^## /m).find((s) => s.startsWith('Arrows\n'));
  if (!section) throw new Error('native/README.md has no "## Arrows" section');
  const arrows = new Map();
  for (const line of section.split('\n')) {
    const cells = line
      .split('|')
      .slice(1, -1)
      .map((c) => c.trim());
    if (cells.length !== 2 || cells[0] === 'room' || /^-+$/.test(cells[0])) continue;
    arrows.set(cells[0], cells[1] === '-' ? [] : cells[1].split(',').map((r) => r.trim()));
  }
  return arrows;
}

/** Every room reachable from `room` along the arrows (itself included). */
function reach(arrows, room) {
  const seen = new Set([room]);
  const todo = [room];
  while (todo.length) {
    for (const next of arrows.get(todo.pop()) ?? []) {
      if (!seen.has(next)) {
        seen.add(next);
        todo.push(next);
      }
    }
  }
  return seen;
}

/** [file relative to native/, included path] for every quoted include under native/. */
function quotedIncludes() {
  const out = [];
  for (const room of fs.readdirSync(nativeDir)) {
    const dir = path.join(nativeDir, room);
    if (!fs.statSync(dir).isDirectory()) continue;
    for (const file of fs.readdirSync(dir)) {
      if (!/\.(h|cc)$/.test(file)) continue;
      const text = fs.readFileSync(path.join(dir, file), 'utf8');
      for (const m of text.matchAll(/^\s*#\s*include\s+"([^"]+)"/gm)) out.push([`${room}/${file}`, m[1]]);
    }
  }
  return out;
}

/** room -> the rooms CMakeLists.txt links it to (ctn_room(room uses...) and later link lines). */
function cmakeLinks(rooms) {
  const text = fs.readFileSync(path.join(root, 'CMakeLists.txt'), 'utf8').replace(/#.*$/gm, '');
  const links = new Map();
  for (const m of text.matchAll(/^\s*ctn_room\(([^)]*)\)/gm)) {
    const [room, ...uses] = m[1].trim().split(/\s+/);
    links.set(room, new Set(uses));
  }
  // Any other link of a room's library naming a room counts too (third-party names are ignored).
  for (const m of text.matchAll(/target_link_libraries\(\s*ctn_(\w+)\s+([^)]*)\)/g)) {
    if (!links.has(m[1])) continue;
    for (const word of m[2].split(/\s+/)) {
      const named = /^ctn_(\w+)$/.exec(word);
      if (named && rooms.has(named[1])) links.get(m[1]).add(named[1]);
    }
  }
  // The addon links the binding's rooms.
  const addon = /target_link_libraries\(\s*cycletls_native\s+PRIVATE\s+([^)]*)\)/.exec(text);
  if (addon) {
    const words = addon[1].split(/\s+/).filter(Boolean);
    links.set('binding', new Set(words.map((w) => w.replace(/^ctn_/, ''))));
  }
  return links;
}

const arrows = readArrows();
const rooms = new Set(arrows.keys());

test('the table names every folder of native/ and nothing else, arrows only to rooms', () => {
  const folders = fs.readdirSync(nativeDir).filter((f) => fs.statSync(path.join(nativeDir, f)).isDirectory());
  expect([...rooms].sort()).toEqual(folders.sort());
  for (const [room, to] of arrows) {
    for (const r of to) {
      expect({ room, arrow: r, known: rooms.has(r) }).toEqual({ room, arrow: r, known: true });
    }
  }
});

test('the arrows have no cycle', () => {
  for (const [room, to] of arrows) {
    for (const next of to) {
      // A cycle through room would bring it back from one of its arrows.
      const cycle = reach(arrows, next).has(room);
      expect({ room, via: next, cycle }).toEqual({ room, via: next, cycle: false });
    }
  }
});

test('every include under native/ goes where the arrows allow', () => {
  const includes = quotedIncludes();
  expect(includes.length).toBeGreaterThan(50);
  const forbidden = [];
  for (const [file, included] of includes) {
    const room = file.split('/')[0];
    const target = included.split('/')[0];
    // Only "room/name.h": no relative path around the rooms' include directories.
    if (!included.includes('/') || included.includes('..') || !rooms.has(target)) {
      forbidden.push(`${file}: "${included}" names no room`);
    } else if (!reach(arrows, room).has(target)) {
      forbidden.push(`${file}: "${included}" (${room} -> ${target} is no arrow)`);
    }
  }
  expect(forbidden).toEqual([]);
});

test('each arrow is used by an include of its room', () => {
  const used = new Map([...rooms].map((r) => [r, new Set()]));
  for (const [file, included] of quotedIncludes()) used.get(file.split('/')[0]).add(included.split('/')[0]);
  for (const [room, to] of arrows) {
    for (const r of to) {
      expect({ room, arrow: r, used: used.get(room).has(r) }).toEqual({ room, arrow: r, used: true });
    }
  }
});

test('CMakeLists.txt links every room to exactly the rooms of its arrows', () => {
  const links = cmakeLinks(rooms);
  expect([...links.keys()].sort()).toEqual([...rooms].sort());
  for (const [room, to] of arrows) {
    expect({ room, links: [...links.get(room)].sort() }).toEqual({ room, links: [...to].sort() });
  }
});

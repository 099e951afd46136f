#!/usr/bin/env node
// Send one HL7 v2.5 ADT message to Relais over MLLP and print the ACK.
// Node.js only. The file holds the segments on separate lines; the bytes
// sent are in the character set MSH-18 declares (8859/1 or UNICODE UTF-8).
//
//   node send_adt.js --host relais.chu.example --port 2575 adt_a28.hl7
//
// Exit status: 0 when Relais answers AA, 1 for AE or AR (the ERR segment
// says where the fault is), 2 when there is no answer.
'use strict';
const fs = require('node:fs');
const net = require('node:net');
const { parseArgs } = require('node:util');

const { values: a, positionals } = parseArgs({
  options: { host: { type: 'string', default: '127.0.0.1' }, port: { type: 'string', default: '2575' } },
  allowPositionals: true,
});
const text = fs.readFileSync(positionals[0], 'utf8').split(/\r?\n|\r/).filter((l) => l.trim()).join('\r') + '\r';
const charsetOf = (t) => ((t.split('\r')[0].split('|')[17] || '').startsWith('8859/1') ? 'latin1' : 'utf8');
const body = Buffer.from(text, charsetOf(text));

const sock = net.connect({ host: a.host, port: Number(a.port) }, () => {
  sock.write(Buffer.concat([Buffer.from([0x0b]), body, Buffer.from([0x1c, 0x0d])]));
});
let reply = Buffer.alloc(0);
sock.setTimeout(30000, () => { console.error('no answer from Relais'); process.exit(2); });
sock.on('error', (e) => { console.error(e.message); process.exit(2); });
sock.on('data', (d) => {
  reply = Buffer.concat([reply, d]);
  if (reply.length >= 2 && reply[reply.length - 2] === 0x1c && reply[reply.length - 1] === 0x0d) {
    const raw = reply.subarray(1, reply.length - 2);
    const ack = raw.toString(charsetOf(raw.toString('latin1')));
    console.log(ack.replace(/\r/g, '\n'));
    const msa = ack.split('\r').find((s) => s.startsWith('MSA|'));
    sock.end();
    process.exit(msa && msa.split('|')[1] === 'AA' ? 0 : 1);
  }
});

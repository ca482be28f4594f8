// A real nginx (Debian's package) in front of a chat server, as a deployment runs it: TLS with a
// certificate made here by openssl, on a free port, with the config written here. It proxies
// every path, websocket upgrades included, with nginx's defaults otherwise: `Host` is rewritten
// to the upstream's address, `X-Forwarded-For` appended (`$proxy_add_x_forwarded_for`).

import { execFileSync, spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort } from './harness.mjs';

/** nginx's binary: on PATH, or where Debian puts it (/usr/sbin is not on every user's PATH). */
function nginxBinary() {
  for (const candidate of ['/usr/sbin/nginx', '/usr/local/sbin/nginx']) if (existsSync(candidate)) return candidate;
  return 'nginx';
}

export class Nginx {
  constructor() {
    this.dir = mkdtempSync(join(tmpdir(), 'chat-nginx-'));
    mkdirSync(join(this.dir, 'temp'));
    // A self-signed certificate for 127.0.0.1 (the clients are told to trust exactly it).
    execFileSync('openssl', [
      'req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '1', '-subj', '/CN=127.0.0.1',
      '-addext', 'subjectAltName=IP:127.0.0.1',
      '-keyout', join(this.dir, 'key.pem'), '-out', join(this.dir, 'cert.pem'),
    ], { stdio: 'ignore' });
    this.ca = readFileSync(join(this.dir, 'cert.pem'));
  }

  /** Picks the public port (before the app starts, so its ORIGIN can name it). */
  async reserve() {
    this.port = await freePort();
    this.url = `https://127.0.0.1:${this.port}`;
    return this;
  }

  /** Starts nginx proxying to `upstream` (`http://127.0.0.1:PORT`); resolves once it listens. */
  async start(upstream) {
    const temp = join(this.dir, 'temp');
    const conf = join(this.dir, 'nginx.conf');
    writeFileSync(conf, `
daemon off;
master_process off;
pid ${join(this.dir, 'nginx.pid')};
error_log stderr notice;
events { worker_connections 4096; }
http {
  access_log off;
  client_body_temp_path ${temp}/body;
  proxy_temp_path ${temp}/proxy;
  fastcgi_temp_path ${temp}/fastcgi;
  uwsgi_temp_path ${temp}/uwsgi;
  scgi_temp_path ${temp}/scgi;
  map $http_upgrade $connection_upgrade { default upgrade; '' close; }
  server {
    listen 127.0.0.1:${this.port} ssl;
    ssl_certificate ${join(this.dir, 'cert.pem')};
    ssl_certificate_key ${join(this.dir, 'key.pem')};
    location / {
      proxy_pass ${upstream};
      proxy_http_version 1.1;
      proxy_set_header Upgrade $http_upgrade;
      proxy_set_header Connection $connection_upgrade;
      proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
      proxy_set_header X-Forwarded-Proto $scheme;
      proxy_read_timeout 1h;
    }
  }
}
`);
    this.process = spawn(nginxBinary(), ['-p', this.dir, '-c', conf, '-e', 'stderr'], { stdio: ['ignore', 'ignore', 'pipe'] });
    this.log = '';
    await new Promise((resolve, reject) => {
      this.process.stderr.on('data', (chunk) => {
        this.log += chunk;
        // Logged after the listening sockets are open (they accept from then on).
        if (this.log.includes('getrlimit')) resolve();
      });
      this.process.on('error', (e) => reject(new Error(`nginx: ${e.message} (apt-get install nginx)`)));
      this.process.on('exit', (code) => reject(new Error(`nginx exited (${code}): ${this.log}`)));
    });
    return this;
  }

  async stop() {
    if (this.process && this.process.exitCode === null && this.process.signalCode === null) {
      const exited = new Promise((resolve) => this.process.once('exit', resolve));
      this.process.kill('SIGKILL');
      await exited;
    }
    rmSync(this.dir, { recursive: true, force: true });
  }
}

import { Dialog, showDialog } from '@jupyterlab/apputils';
import { Widget } from '@lumino/widgets';

import { h } from '../dom';
import { HostKeyJson } from '../tokens';

/** The host key an attach answer (409) carries, when it carries one. */
export function unknownHostKey(error: unknown): HostKeyJson | null {
  const body = (error as { body?: unknown } | null)?.body;
  const key = body && typeof body === 'object' ? (body as { host_key?: HostKeyJson }).host_key : undefined;
  return key && typeof key.fingerprint === 'string' ? key : null;
}

/**
 * Ask, in words, whether to trust the host key a machine presented on its first connection.
 * True: pin exactly this fingerprint (the server checks it again when it connects).
 */
export async function confirmHostKey(key: HostKeyJson): Promise<boolean> {
  const where = `${key.host}:${key.port}`;
  const keyFile = key.key_type.startsWith('ssh-') ? key.key_type.slice(4) : '*';
  const body = new Widget({ node: h('div', { className: 'aml-HostKeyQuestion' },
    h('p', {}, `This is the first connection to ${where}. The machine presented its `,
      h('strong', {}, key.key_type), ' host key, with this fingerprint:'),
    h('p', { className: 'aml-Fingerprint', 'aria-label': 'Host key fingerprint' }, key.fingerprint),
    h('p', {}, 'Compare it with the fingerprint shown on that machine (for example by ',
      h('code', {}, `ssh-keygen -lf /etc/ssh/ssh_host_${keyFile}_key.pub`), ', or ask its administrator).'),
    h('p', {}, 'Trust it only if the two are the same. aml_magic will then remember this key and ' +
      'refuse to connect if the machine ever presents another one.')) });
  const result = await showDialog({
    title: `Trust the host key of ${where}?`,
    body,
    buttons: [Dialog.cancelButton({ label: 'Do not trust' }),
      Dialog.okButton({ label: 'Trust and attach' })]
  });
  return result.button.accept;
}

/** After an attach with a generated key: the line to add to the machine's authorized keys. */
export async function showPublicKey(target: string, user: string | null, publicKey: string): Promise<void> {
  const command = `mkdir -p ~/.ssh && chmod 700 ~/.ssh && echo '${publicKey}' >> ~/.ssh/authorized_keys`;
  const body = new Widget({ node: h('div', { className: 'aml-PublicKey' },
    h('p', {}, `A new SSH key was made for '${target}'. Before its first run, allow it to log in` +
      (user ? ` as ${user}` : '') + ': add this public key to ~/.ssh/authorized_keys on the machine,'),
    h('pre', { className: 'aml-PublicKeyLine', 'aria-label': 'Public key' }, publicKey),
    h('p', {}, 'for example by running there:'),
    h('pre', { className: 'aml-PublicKeyCommand' }, command)) });
  await showDialog({
    title: `Authorize the key of '${target}'`,
    body,
    buttons: [Dialog.okButton({ label: 'Done' })]
  });
}

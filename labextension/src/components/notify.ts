import { Notification } from '@jupyterlab/apputils';

import { message } from '../model';

/**
 * Errors of the extension's actions (attach, detach, prepare, submit, cancel, delete) as
 * JupyterLab notifications: they stay until dismissed, so the next poll (every second) cannot
 * take them away as it did the sidebar's message line, and several failures stack.
 */
export function notifyError(action: string, error: unknown): string {
  return Notification.error(`${action}: ${message(error)}`, { autoClose: false });
}

/** A lasting success note (e.g. a prepare's result), dismissed by the user. */
export function notifySuccess(text: string): string {
  return Notification.success(text, { autoClose: false });
}

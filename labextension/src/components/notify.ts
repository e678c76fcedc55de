import { Notification, showErrorMessage } from '@jupyterlab/apputils';

import { message } from '../model';

/** JupyterLab's toasts cut a message after this many characters. */
const TOAST_CHARS = 140;

/**
 * Errors of the extension's actions (attach, detach, prepare, submit, cancel, delete) as
 * JupyterLab notifications: they stay until dismissed, so the next poll (every second) cannot
 * take them away as it did the sidebar's message line, and several failures stack. A message
 * longer than a toast shows gets a Details button with the whole line.
 */
export function notifyError(action: string, error: unknown): string {
  const text = `${action}: ${message(error)}`;
  const actions: Notification.IAction[] = text.length > TOAST_CHARS ? [{
    label: 'Details',
    caption: 'Show the whole message',
    callback: event => {
      event.preventDefault();                       // the notification stays
      void showErrorMessage(action, message(error));
    }
  }] : [];
  return Notification.error(text, { autoClose: false, actions });
}

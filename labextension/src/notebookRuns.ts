import { JupyterFrontEnd, JupyterFrontEndPlugin } from '@jupyterlab/application';
import { MainAreaWidget, showErrorMessage } from '@jupyterlab/apputils';
import { IRenderMimeRegistry } from '@jupyterlab/rendermime';
import { ServerConnection } from '@jupyterlab/services';
import { notebookIcon, runIcon, Toolbar, ToolbarButton } from '@jupyterlab/ui-components';

import { ExecutedNotebook, INotebookJson, setNotebookOpener } from './components/notebookViewer';
import { apiUrl } from './handler';

/** The command of index.ts that opens the submit dialog (`path`: the file to submit). */
const SUBMIT_COMMAND = 'aml-magic:submit';
/** An executed notebook larger than this is offered for download only. */
const MAX_VIEW_BYTES = 32 * 1024 * 1024;

/** Where the file a document widget shows lives, and its toolbar (a notebook panel has both). */
interface IDocumentLike {
  toolbar?: Toolbar;
}

/**
 * Notebooks as runs in Lab: a "Submit as run…" button on every notebook's toolbar (the same
 * dialog as the file browser's menu, with a parameters field), and a read-only view of an
 * executed notebook that a run kept among its outputs (the run detail's "View" button).
 */
export const notebookRunsPlugin: JupyterFrontEndPlugin<void> = {
  id: 'aml-magic:notebook-runs',
  description: 'aml_magic: submit a notebook as a run; view the executed notebook of a run',
  autoStart: true,
  optional: [IRenderMimeRegistry],
  activate: (app: JupyterFrontEnd, rendermime: IRenderMimeRegistry | null) => {
    app.docRegistry.addWidgetExtension('Notebook', {
      createNew: (widget, context) => {
        const toolbar = (widget as unknown as IDocumentLike).toolbar;
        if (!toolbar) {
          return;
        }
        const button = new ToolbarButton({
          icon: runIcon,
          label: 'Submit as run',
          tooltip: 'Submit as run… (on a compute target, with parameters)',
          onClick: async () => {
            if (context.model.dirty) {
              await context.save();        // the run takes the notebook as saved
            }
            await app.commands.execute(SUBMIT_COMMAND, { path: context.path });
          }
        });
        button.addClass('aml-SubmitNotebookButton');
        toolbar.insertAfter('cellType', 'aml-submit', button) ||
          toolbar.addItem('aml-submit', button);
        return button;
      }
    });
    if (!rendermime) {
      return;
    }
    const open = new Map<string, MainAreaWidget<ExecutedNotebook>>();
    setNotebookOpener(async (runId, path, params) => {
      const key = `${params.project}:${runId}:${path}`;
      const existing = open.get(key);
      if (existing && !existing.isDisposed) {
        app.shell.activateById(existing.id);
        return;
      }
      try {
        const notebook = await fetchNotebook(runId, path, params);
        const content = new ExecutedNotebook(rendermime, notebook);
        const widget = new MainAreaWidget({ content });
        widget.id = `aml-notebook-${runId}-${path.replace(/[^\w-]/g, '_')}`;
        widget.title.label = `${path.split('/').pop()} (run ${runId})`;
        widget.title.caption = `${path}, executed by run ${runId} (read-only)`;
        widget.title.icon = notebookIcon;
        widget.title.closable = true;
        open.set(key, widget);
        app.shell.add(widget, 'main');
        app.shell.activateById(widget.id);
      } catch (error) {
        await showErrorMessage('Executed notebook', error as Error);
      }
    });
  }
};

/** The executed notebook (an output of the run), read through the outputs route. */
async function fetchNotebook(runId: string, path: string,
  params: Record<string, string>): Promise<INotebookJson> {
  const url = apiUrl(`runs/${encodeURIComponent(runId)}/outputs/` +
    path.split('/').map(encodeURIComponent).join('/'), params);
  const settings = ServerConnection.makeSettings();
  const response = await ServerConnection.makeRequest(url, {}, settings);
  if (!response.ok) {
    throw new Error(`run ${runId}: ${path} could not be read (HTTP ${response.status})`);
  }
  const size = Number(response.headers.get('Content-Length') || 0);
  if (size > MAX_VIEW_BYTES) {
    throw new Error(`${path} is ${Math.round(size / 1e6)} MB: download it instead`);
  }
  const notebook = JSON.parse(await response.text()) as INotebookJson;
  if (!notebook || !Array.isArray(notebook.cells)) {
    throw new Error(`${path} of run ${runId} is not a notebook`);
  }
  return notebook;
}

import { JupyterFrontEnd, JupyterFrontEndPlugin } from '@jupyterlab/application';

const plugin: JupyterFrontEndPlugin<void> = {
  id: 'aml-magic:plugin',
  autoStart: true,
  activate: (app: JupyterFrontEnd) => {
    console.log('aml-magic', app);
  }
};
export default plugin;

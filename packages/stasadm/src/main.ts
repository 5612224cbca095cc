import { versionText } from '@stas/common/version';
process.stdout.write(versionText('stasadm') + '\n');

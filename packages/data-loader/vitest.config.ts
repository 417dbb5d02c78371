import { peaktradeProject } from '@peaktrade/vitest-config';

export default peaktradeProject('data-loader');

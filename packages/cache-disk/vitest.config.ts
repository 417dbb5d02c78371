import { peaktradeProject } from '@peaktrade/vitest-config';

export default peaktradeProject('cache-disk');

//! `BUILD_COMMAND`: the operator's own command, run by `sh -c` in the sources. It gets the
//! `ACTOR_*` variables (image name, Dockerfile, context, cache choice) and the build arguments
//! as `"$@"`; whatever image it makes is its own business.

use super::{BuiltImage, ImageBuilder, ImageJob, Plan};

pub struct Command {
    command: String,
}

impl Command {
    pub fn new(command: String) -> Self {
        Command { command }
    }
}

impl ImageBuilder for Command {
    fn name(&self) -> &'static str {
        "command"
    }

    fn makes_images(&self) -> bool {
        false
    }

    fn build(&self, job: &ImageJob) -> Plan {
        Plan {
            command: self.command.clone(),
            args: job.build_args.clone(),
            env: Vec::new(),
        }
    }

    fn tag(&self, _job: &ImageJob, _image: &BuiltImage, _tag: &str) -> Option<Plan> {
        None
    }

    fn result(&self, _job: &ImageJob) -> Result<Option<BuiltImage>, String> {
        Ok(None)
    }

    fn local_store(&self) -> String {
        "BUILD_COMMAND's own place".to_owned()
    }
}

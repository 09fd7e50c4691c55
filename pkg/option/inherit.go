package option

// Effective combines the options a command's callbacks recorded with
// those it inherits from its job's sbatch or salloc (inherited: option
// name → value, from Slurm's SLURM_SPANK__SLURM_SPANK_OPTION_carina_*
// variables; "1" for a flag without an argument).
//
// Slurm replays the inherited options through the callbacks of a nested
// srun, so recorded mixes both: an inherited value that the command line
// contradicts is dropped (the command line wins), and an inherited option
// the callbacks did not see (slurmstepd, or a command that does not
// replay) is added. Given on the command line, either half of a flag pair
// hides both inherited halves.
func Effective(recorded Flags, inherited map[string]string) Flags {
	f := Flags{}
	for k, v := range recorded {
		f[k] = append([]string(nil), v...)
	}
	for name, v := range inherited {
		own := Without(f[name], v)
		switch {
		case len(own) > 0 && !Accumulates(name):
			f[name] = own // this command's value wins
		case len(f[OtherHalf(name)]) > 0 && inherited[OtherHalf(name)] == "":
			delete(f, name) // the command line gave the other half of the pair
		case len(f[name]) == 0:
			f[name] = []string{v}
		}
	}
	return f
}
